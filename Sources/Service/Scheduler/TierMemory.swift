import MoeAPI
import PluginHost

/// One tier's memory account (docs/service.md, "Memory"):
///
///     account = weights + scratch + max(KV allocated, KV reserved + cached prefixes)
///
/// where weights and scratch are what the plugin says the open model holds
/// (the estimate until then), KV allocated is what its cache holds now,
/// and KV reserved is what the running sequences may grow to, each up to
/// the context. While loading, the account is the estimate: weights,
/// scratch and one full-context sequence, the first request's reservation.
struct TierMemory {
    /// The plugin's estimate before open.
    var estimate = MemoryEstimate(weightBytes: 0, cacheBytes: 0, scratchBytes: 0)
    /// What the model reported after its last job; nil before open, or
    /// when the plugin does not report memory.
    var usage: MemoryUsage?
    /// KV bytes one sequence may grow to: the whole context.
    var sequenceReserve: UInt64 = 0
    /// KV of idle cached prefixes (the prefix cache's line item).
    var prefixCacheBytes: UInt64 = 0
    /// Set once the model is open: the account follows `usage`.
    var isOpen = false

    init() {}

    init(estimate: MemoryEstimate) {
        self.estimate = estimate
        sequenceReserve = estimate.cacheBytes
    }

    var weightBytes: UInt64 { usage?.weightBytes ?? estimate.weightBytes }
    var scratchBytes: UInt64 { usage?.scratchBytes ?? estimate.scratchBytes }
    var kvCacheBytes: UInt64 { usage?.cacheBytes ?? 0 }

    func reserved(sequences: Int) -> UInt64 { sequenceReserve.multipliedReportingOverflow(by: UInt64(sequences)).partialValue }

    /// What the budget counts with `sequences` sequences running.
    func account(sequences: Int) -> UInt64 {
        guard isOpen else { return estimate.totalBytes }
        let kv = max(kvCacheBytes, reserved(sequences: sequences) &+ prefixCacheBytes)
        return weightBytes &+ scratchBytes &+ kv
    }

    /// Weights, scratch and KV allocated: what the process holds for the tier now.
    var heldBytes: UInt64 {
        guard isOpen else { return 0 }
        return weightBytes &+ scratchBytes &+ max(kvCacheBytes, prefixCacheBytes)
    }

    func figures(sequences: Int, kvType: KVCacheKind) -> TierMemoryFigures {
        var f = TierMemoryFigures()
        f.weightBytes = weightBytes
        f.kvCacheBytes = kvCacheBytes
        f.scratchBytes = scratchBytes
        f.kvReservedBytes = isOpen ? reserved(sequences: sequences) : estimate.cacheBytes
        f.prefixCacheBytes = prefixCacheBytes
        f.kvType = kvType.description
        return f
    }
}

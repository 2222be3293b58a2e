import MoeAPI
import PluginHost

/// The memory budget: what admission reserves, what growth may take, and
/// what is freed when it would pass the budget — idle cached prefixes
/// first, then idle tiers (least recently used first), and only then is
/// the request refused with RESOURCE_EXHAUSTED and the figures.
extension Scheduler {
    /// Frees up to `bytes` of idle cached prefixes across the tiers, least
    /// recently used first, and returns how many bytes that frees (each
    /// tier's `memoryAccount` counts its cache as a line item).
    func freeCachedPrefixes(_ bytes: UInt64) -> UInt64 {
        bytes > 0 ? dropCachedPrefixes(toFree: bytes) : 0
    }

    /// Makes room for `need` more bytes: returns nil when they fit (after
    /// freeing what it had to), else the bytes still in use.
    func makeRoom(_ need: UInt64, for tier: Tier, to purpose: String) -> UInt64? {
        let budget = memoryBudget
        var used = memoryUsed
        guard used &+ need > budget else { return nil }
        used -= min(used, freeCachedPrefixes(used &+ need - budget))
        for victim in evictionCandidates(excluding: tier) where used &+ need > budget {
            moedLog.notice("evicting idle tier \(victim.name) (\(formatBytes(victim.memoryBytes))) to \(purpose)", metadata: ["tier": "\(victim.name)"])
            used -= min(used, victim.memoryBytes)
            victim.counters.evictions += 1
            beginDrain(victim)
        }
        return used &+ need <= budget ? nil : used
    }

    /// Idle, unpinned, loaded tiers, least recently used first.
    func evictionCandidates(excluding tier: Tier) -> [Tier] {
        tiers.values.filter { $0 !== tier && $0.isIdle && !$0.settings.isPinned }.sorted { $0.lastUsed < $1.lastUsed }
    }

    /// RESOURCE_EXHAUSTED naming what was needed, the budget, and who holds the rest.
    func exhausted(_ what: String, need: UInt64, used: UInt64, excluding tier: Tier?) -> RemoteError {
        let holders = tierOrder.compactMap { tiers[$0] }.filter { $0.memoryBytes > 0 && $0 !== tier }
            .map { "\($0.name) \(formatBytes($0.memoryBytes))" }.joined(separator: ", ")
        return RemoteError(.resourceExhausted,
            "\(what) needs \(formatBytes(need)) but the memory budget is \(formatBytes(memoryBudget)) " +
            "with \(formatBytes(used)) in use\(holders.isEmpty ? "" : " (\(holders))") by busy or pinned tiers")
    }

    /// Before a queued generation joins the running ones: the KV it may
    /// grow to (up to the context) must fit. Nil when it does.
    func reserveSequence(on tier: Tier) -> RemoteError? {
        let running = tier.runningCount
        let account = tier.memoryAccount
        let now = account.account(sequences: running), after = account.account(sequences: running + 1)
        guard after > now else { return nil }
        guard let used = makeRoom(after - now, for: tier, to: "run a request on \(tier.name)") else { return nil }
        return exhausted("a new sequence on tier \(tier.name) (KV up to its context of \(tier.settings.context))",
                         need: after - now, used: used, excluding: tier)
    }

    /// After a job on the lane: the model's own figures replace the last
    /// ones. Growth past the budget (a cache holding more than reserved)
    /// frees cached prefixes and idle tiers; running work is not stopped.
    func updateUsage(_ tier: Tier, _ usage: MemoryUsage?) {
        if let usage, tier.memory.isOpen, tier.model != nil {
            tier.memory.usage = usage
            tier.counters.kvCachePeakBytes = max(tier.counters.kvCachePeakBytes, usage.cacheBytes)
        }
        // Also when the plugin reports nothing: the prefixes a job just
        // cached may have taken the tiers past the budget.
        _ = makeRoom(0, for: tier, to: "hold \(tier.name)'s KV cache")
    }

    /// Held and reserved bytes over all tiers, for `moectl status`.
    var memoryHeld: UInt64 {
        tiers.values.reduce(0) { $0 &+ $1.memoryAccount.heldBytes }
    }
}

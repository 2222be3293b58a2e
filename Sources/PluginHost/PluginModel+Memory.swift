import CMoePlugin

/// Element type of a model's KV cache, as tiers and `moectl` name it.
public enum KVCacheKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case f16, q8_0, f32

    /// F16, as llama.cpp's default: half of F32, indistinguishable in perplexity.
    public static let standard = KVCacheKind.f16

    public var description: String { rawValue }

    /// "f16", "q8_0" (or "q8"), "f32", in any case; nil otherwise.
    public init?(name: String) {
        switch name.lowercased() {
        case "f16": self = .f16
        case "q8_0", "q8": self = .q8_0
        case "f32": self = .f32
        default: return nil
        }
    }

    /// The value of moe_open_params.kv_type.
    public var abiValue: UInt32 {
        switch self {
        case .f32: MOE_KV_CACHE_F32.rawValue
        case .f16: MOE_KV_CACHE_F16.rawValue
        case .q8_0: MOE_KV_CACHE_Q8_0.rawValue
        }
    }
}

/// What an open model holds now, from the plugin's memory_usage entry.
public struct MemoryUsage: Sendable, Equatable {
    public var weightBytes: UInt64
    public var cacheBytes: UInt64
    public var scratchBytes: UInt64

    public init(weightBytes: UInt64, cacheBytes: UInt64, scratchBytes: UInt64) {
        self.weightBytes = weightBytes
        self.cacheBytes = cacheBytes
        self.scratchBytes = scratchBytes
    }
}

extension PluginModel {
    /// Bytes held now, or nil when the plugin does not say (no memory_usage).
    public func memoryUsage() throws -> MemoryUsage? {
        guard let entry = plugin.api.pointee.memory_usage else { return nil }
        var raw = moe_memory_usage()
        try plugin.check(entry(try open(), &raw), "memory_usage")
        return MemoryUsage(weightBytes: raw.weight_bytes, cacheBytes: raw.cache_bytes, scratchBytes: raw.scratch_bytes)
    }

    /// KV bytes one sequence takes at `positions` positions, or nil when
    /// the plugin does not say (no memory_sequence_bytes).
    public func sequenceBytes(positions: Int) throws -> UInt64? {
        guard let entry = plugin.api.pointee.memory_sequence_bytes else { return nil }
        var bytes: UInt64 = 0
        try plugin.check(entry(try open(), UInt32(clamping: positions), &bytes), "memory_sequence_bytes")
        return bytes
    }
}

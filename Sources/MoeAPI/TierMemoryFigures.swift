import MoeProtoC

/// Where a tier's memory goes, as `moectl status` shows it. The budget
/// counts weight + scratch + max(kvCache, kvReserved + prefixCache): the KV
/// the plugin has allocated, or what running sequences may grow to (each up
/// to its context) plus the idle cached prefixes, whichever is larger.
public struct TierMemoryFigures: Sendable, Equatable {
    /// Weights as held: the mapped file, or copies made at load.
    public var weightBytes: UInt64 = 0
    /// KV cache allocated now, every sequence of the tier.
    public var kvCacheBytes: UInt64 = 0
    /// Activations and other buffers.
    public var scratchBytes: UInt64 = 0
    /// KV reserved for the running sequences, each up to its context.
    public var kvReservedBytes: UInt64 = 0
    /// KV of idle cached prefixes (kept for reuse, freed first).
    public var prefixCacheBytes: UInt64 = 0
    /// "f16", "q8_0" or "f32".
    public var kvType = ""

    public init() {}

    init(_ t: Moed__V1__TierStatus) {
        weightBytes = t.weight_bytes
        kvCacheBytes = t.kv_cache_bytes
        scratchBytes = t.scratch_bytes
        kvReservedBytes = t.kv_reserved_bytes
        prefixCacheBytes = t.prefix_cache_bytes
        kvType = text(t.kv_type)
    }

    func encode(into t: UnsafeMutablePointer<Moed__V1__TierStatus>, _ arena: Arena) {
        t.pointee.has_weight_bytes = 1
        t.pointee.weight_bytes = weightBytes
        t.pointee.has_kv_cache_bytes = 1
        t.pointee.kv_cache_bytes = kvCacheBytes
        t.pointee.has_scratch_bytes = 1
        t.pointee.scratch_bytes = scratchBytes
        t.pointee.has_kv_reserved_bytes = 1
        t.pointee.kv_reserved_bytes = kvReservedBytes
        t.pointee.has_prefix_cache_bytes = 1
        t.pointee.prefix_cache_bytes = prefixCacheBytes
        t.pointee.kv_type = arena.string(kvType)
    }
}

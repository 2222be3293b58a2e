import Kernels

/// Keys and values of every layer for several sequences at once, each row
/// rounded to the cache's element type: F16 by default, Q8_0 for half that,
/// F32 for results exact against llama.cpp with an F32 cache.
///
/// Each sequence owns one growable block per layer laid out
/// [position × row], a row being kvWidth values; it grows by doubling up to
/// the context length, so a short chat does not pay for 8k positions up
/// front. `allocatedBytes` is what the blocks hold now, for honest memory
/// figures.
public final class KVCache {
    public let layers: Int
    public let kvWidth: Int
    public let contextLength: Int
    public let type: KVCacheType
    /// Bytes of one row (one position of one layer's keys, or values).
    public let rowBytes: Int
    /// Bytes the cache's blocks hold now, keys and values of every sequence.
    public private(set) var allocatedBytes = 0
    private var sequences: [Int32: SequenceCache] = [:]

    final class SequenceCache {
        var capacity = 0
        var length = 0
        var keys: [UnsafeMutableRawPointer] = []
        var values: [UnsafeMutableRawPointer] = []

        deinit {
            keys.forEach { $0.deallocate() }
            values.forEach { $0.deallocate() }
        }
    }

    public init(layers: Int, kvWidth: Int, contextLength: Int, type: KVCacheType = .standard) {
        self.layers = layers
        self.kvWidth = kvWidth
        self.contextLength = contextLength
        self.type = type
        self.rowBytes = type.rowBytes(kvWidth)
    }

    /// Bytes one sequence takes when it holds `positions` positions, the
    /// growth step included (blocks double from 64 positions).
    public func bytes(forPositions positions: Int) -> Int {
        positions <= 0 ? 0 : 2 * layers * rowBytes * Self.capacity(toHold: positions, context: contextLength)
    }

    /// Positions currently held for `sequence` (0 when unknown).
    public func length(of sequence: Int32) -> Int { sequences[sequence]?.length ?? 0 }

    /// Forgets a sequence and frees its memory.
    public func remove(_ sequence: Int32) {
        guard let s = sequences.removeValue(forKey: sequence) else { return }
        allocatedBytes -= 2 * layers * rowBytes * s.capacity
    }

    /// Drops every position from `position` on, so generation can resume there.
    public func truncate(_ sequence: Int32, to position: Int) {
        guard let s = sequences[sequence] else { return }
        s.length = min(s.length, max(0, position))
    }

    /// Bytes the sequence's blocks take: their capacity, not only the
    /// positions in use (truncating keeps the memory for reuse).
    public func bytes(of sequence: Int32) -> Int {
        guard let s = sequences[sequence] else { return 0 }
        return 2 * layers * s.capacity * rowBytes
    }

    /// Makes `destination` hold the first `count` positions of `source`
    /// (at most its length), replacing what it held; for prefix reuse.
    public func copy(_ source: Int32, to destination: Int32, count: Int) {
        let copied = SequenceCache()
        if let from = sequences[source], min(count, from.length) > 0 {
            let n = min(count, from.length)
            grow(copied, toHold: n)
            for layer in 0..<layers {
                copied.keys[layer].copyMemory(from: from.keys[layer], byteCount: n * rowBytes)
                copied.values[layer].copyMemory(from: from.values[layer], byteCount: n * rowBytes)
            }
            copied.length = n
        }
        remove(destination)  // its blocks leave the count before the copy's join it
        sequences[destination] = copied
    }

    /// Makes room for positions up to `position` and records the new length.
    func reserve(_ sequence: Int32, through position: Int) throws {
        guard position < contextLength else {
            throw InferenceError.contextFull(sequence: sequence, contextLength: contextLength)
        }
        let s = sequences[sequence] ?? { let c = SequenceCache(); sequences[sequence] = c; return c }()
        if position >= s.capacity { grow(s, toHold: position + 1) }
        s.length = max(s.length, position + 1)
    }

    func keys(layer: Int, sequence: Int32) -> UnsafeMutableRawPointer { sequences[sequence]!.keys[layer] }
    func values(layer: Int, sequence: Int32) -> UnsafeMutableRawPointer { sequences[sequence]!.values[layer] }

    /// Rounds one position's keys and values (kvWidth floats each) into the cache.
    func store(layer: Int, sequence: Int32, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let s = sequences[sequence]!, offset = position * rowBytes
        VectorOps.storeRow(type, k, into: s.keys[layer] + offset, count: kvWidth)
        VectorOps.storeRow(type, v, into: s.values[layer] + offset, count: kvWidth)
    }

    private static func capacity(toHold count: Int, context: Int) -> Int {
        var capacity = 64
        while capacity < count { capacity *= 2 }
        return min(capacity, context)
    }

    private func grow(_ s: SequenceCache, toHold count: Int) {
        let capacity = max(s.capacity, Self.capacity(toHold: count, context: contextLength))
        let bytes = capacity * rowBytes, kept = s.length * rowBytes
        func regrow(_ old: [UnsafeMutableRawPointer]) -> [UnsafeMutableRawPointer] {
            (0..<layers).map { layer in
                let fresh = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                if layer < old.count {
                    fresh.copyMemory(from: old[layer], byteCount: kept)
                    old[layer].deallocate()
                }
                return fresh
            }
        }
        s.keys = regrow(s.keys)
        s.values = regrow(s.values)
        allocatedBytes += 2 * layers * rowBytes * (capacity - s.capacity)
        s.capacity = capacity
    }
}

/// Keys and values of every layer for several sequences at once, in F32
/// (exact against llama.cpp with an F32 cache).
///
/// Each sequence owns one growable block per layer laid out
/// [position × kvWidth]; it grows by doubling up to the context length, so a
/// short chat does not pay for 8k positions up front.
public final class KVCache {
    public let layers: Int
    public let kvWidth: Int
    public let contextLength: Int
    private var sequences: [Int32: SequenceCache] = [:]

    final class SequenceCache {
        var capacity = 0
        var length = 0
        var keys: [UnsafeMutablePointer<Float>] = []
        var values: [UnsafeMutablePointer<Float>] = []

        deinit {
            keys.forEach { $0.deallocate() }
            values.forEach { $0.deallocate() }
        }
    }

    public init(layers: Int, kvWidth: Int, contextLength: Int) {
        self.layers = layers
        self.kvWidth = kvWidth
        self.contextLength = contextLength
    }

    /// Positions currently held for `sequence` (0 when unknown).
    public func length(of sequence: Int32) -> Int { sequences[sequence]?.length ?? 0 }

    /// Forgets a sequence and frees its memory.
    public func remove(_ sequence: Int32) { sequences[sequence] = nil }

    /// Drops every position from `position` on, so generation can resume there.
    public func truncate(_ sequence: Int32, to position: Int) {
        guard let s = sequences[sequence] else { return }
        s.length = min(s.length, max(0, position))
    }

    /// Bytes the sequence's blocks take: their capacity, not only the
    /// positions in use (truncating keeps the memory for reuse).
    public func bytes(of sequence: Int32) -> Int {
        guard let s = sequences[sequence] else { return 0 }
        return 2 * layers * s.capacity * kvWidth * MemoryLayout<Float>.stride
    }

    /// Makes `destination` hold the first `count` positions of `source`
    /// (at most its length), replacing what it held; for prefix reuse.
    public func copy(_ source: Int32, to destination: Int32, count: Int) {
        let copied = SequenceCache()
        if let from = sequences[source], min(count, from.length) > 0 {
            let n = min(count, from.length)
            grow(copied, toHold: n)
            for layer in 0..<layers {
                copied.keys[layer].update(from: from.keys[layer], count: n * kvWidth)
                copied.values[layer].update(from: from.values[layer], count: n * kvWidth)
            }
            copied.length = n
        }
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

    func keys(layer: Int, sequence: Int32) -> UnsafeMutablePointer<Float> { sequences[sequence]!.keys[layer] }
    func values(layer: Int, sequence: Int32) -> UnsafeMutablePointer<Float> { sequences[sequence]!.values[layer] }

    private func grow(_ s: SequenceCache, toHold count: Int) {
        var capacity = max(s.capacity, 64)
        while capacity < count { capacity *= 2 }
        capacity = min(capacity, contextLength)
        func regrow(_ old: [UnsafeMutablePointer<Float>]) -> [UnsafeMutablePointer<Float>] {
            (0..<layers).map { layer in
                let fresh = UnsafeMutablePointer<Float>.allocate(capacity: capacity * kvWidth)
                if layer < old.count {
                    fresh.update(from: old[layer], count: s.length * kvWidth)
                    old[layer].deallocate()
                }
                return fresh
            }
        }
        s.keys = regrow(s.keys)
        s.values = regrow(s.values)
        s.capacity = capacity
    }
}

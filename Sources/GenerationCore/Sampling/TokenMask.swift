/// Which tokens the sampler may choose, when something narrows the
/// choice (a grammar or JSON Schema, later): the one hook for constrained
/// output. A masked-out token's logit becomes −∞ before any other step,
/// so penalties, top-k/p, min-p and greedy all see only allowed tokens.
public struct TokenMask: Sendable, Equatable {
    private var words: [UInt64]
    public let vocabularySize: Int

    /// Every token allowed (`allowed == true`) or none.
    public init(vocabularySize: Int, allowed: Bool = true) {
        self.vocabularySize = vocabularySize
        words = Array(repeating: allowed ? ~0 : 0, count: (vocabularySize + 63) / 64)
    }

    public subscript(token: Int32) -> Bool {
        get {
            let t = Int(token)
            guard t >= 0 && t < vocabularySize else { return false }
            return words[t >> 6] & (1 << UInt64(t & 63)) != 0
        }
        set {
            let t = Int(token)
            guard t >= 0 && t < vocabularySize else { return }
            if newValue { words[t >> 6] |= 1 << UInt64(t & 63) } else { words[t >> 6] &= ~(1 << UInt64(t & 63)) }
        }
    }

    /// Sets the logits of masked-out tokens to −∞.
    func apply(to scores: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<scores.count where !self[Int32(i)] { scores[i] = -.infinity }
    }
}

import Foundation

/// Picks the next token from a row of logits. Steps run in llama.cpp's
/// order: repetition penalty → top-k → top-p → min-p → temperature → draw.
///
/// One sampler per sequence: it owns the seeded random source and the window
/// of recent tokens, and scratch storage reused across steps.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomSource
    private var recent: [Int32] = []
    private var candidates: [Candidate] = []

    struct Candidate: Sendable {
        var token: Int32
        var logit: Float
    }

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        self.random = RandomSource(seed: parameters.seed)
    }

    /// Tells the sampler about a token that is now part of the context
    /// (prompt or generated), for the repetition penalty.
    public mutating func accept(_ token: Int32) {
        guard parameters.repetitionPenalty != 1, parameters.repetitionWindow > 0 else { return }
        recent.append(token)
        if recent.count > parameters.repetitionWindow { recent.removeFirst(recent.count - parameters.repetitionWindow) }
    }

    /// Chooses a token from `logits` (one value per vocabulary entry).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        if parameters.isGreedy && parameters.repetitionPenalty == 1 { return Self.argmax(logits) }
        candidates.removeAll(keepingCapacity: true)
        candidates.reserveCapacity(logits.count)
        for (i, l) in logits.enumerated() { candidates.append(Candidate(token: Int32(i), logit: l)) }
        applyRepetitionPenalty()
        if parameters.isGreedy {
            return candidates.max { $0.logit < $1.logit }!.token
        }
        keepTopK()
        keepTopP()
        keepMinP()
        return draw()
    }

    /// The index of the largest logit (the first one on ties, like llama.cpp).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return Int32(best)
    }

    private mutating func applyRepetitionPenalty() {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1, !recent.isEmpty else { return }
        for token in Set(recent) where Int(token) < candidates.count && token >= 0 {
            let l = candidates[Int(token)].logit
            candidates[Int(token)].logit = l > 0 ? l / penalty : l * penalty
        }
    }

    /// Sorts candidates by logit, descending, keeping at most k.
    private mutating func keepTopK() {
        let k = parameters.topK > 0 ? min(parameters.topK, candidates.count) : candidates.count
        if k < candidates.count {
            candidates = Array(candidates.partialSortedPrefix(k))
        } else {
            candidates.sort { $0.logit > $1.logit }
        }
    }

    /// Candidates are sorted; keeps the smallest prefix whose probability mass reaches p.
    private mutating func keepTopP() {
        let p = parameters.topP
        guard p < 1, candidates.count > 1 else { return }
        let probabilities = softmax(candidates.map(\.logit))
        var cumulative: Float = 0
        for (i, prob) in probabilities.enumerated() {
            cumulative += prob
            if cumulative >= p {
                candidates.removeSubrange((i + 1)...)
                return
            }
        }
    }

    /// Candidates are sorted; drops those with probability below minP × the best one's.
    private mutating func keepMinP() {
        let minP = parameters.minP
        guard minP > 0, candidates.count > 1 else { return }
        // p_i / p_max = exp(l_i - l_max) ≥ minP  ⇔  l_i ≥ l_max + ln(minP)
        let threshold = candidates[0].logit + logf(minP)
        if let cut = candidates.firstIndex(where: { $0.logit < threshold }), cut > 0 {
            candidates.removeSubrange(cut...)
        }
    }

    private mutating func draw() -> Int32 {
        let scaled = candidates.map { $0.logit / parameters.temperature }
        let probabilities = softmax(scaled)
        let u = random.nextUnitFloat()
        var cumulative: Float = 0
        for (i, prob) in probabilities.enumerated() {
            cumulative += prob
            if u < cumulative { return candidates[i].token }
        }
        return candidates[candidates.count - 1].token
    }
}

func softmax(_ logits: [Float]) -> [Float] {
    guard let maxLogit = logits.max() else { return [] }
    var exps = logits.map { expf($0 - maxLogit) }
    let sum = exps.reduce(0, +)
    for i in exps.indices { exps[i] /= sum }
    return exps
}

extension Array where Element == Sampler.Candidate {
    /// The k largest candidates, sorted descending, without sorting the rest.
    func partialSortedPrefix(_ k: Int) -> [Element] {
        // A bounded min-heap would do less work; a k-sized sorted insertion
        // is simpler and k is small (40 by default).
        var top: [Element] = []
        top.reserveCapacity(k + 1)
        for c in self {
            if top.count == k, let last = top.last, c.logit <= last.logit { continue }
            var i = top.count
            while i > 0 && top[i - 1].logit < c.logit { i -= 1 }
            top.insert(c, at: i)
            if top.count > k { top.removeLast() }
        }
        return top
    }
}

#if canImport(Glibc)
import Glibc  // exp, log: the core needs libm, not Foundation (moed links no Foundation)
#elseif canImport(Darwin)
import Darwin
#endif

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
    private var scratch: [Float] = []

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
    /// `mask`, when given, rules tokens out before any other step: the hook
    /// for constrained output (grammars, JSON Schema).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, mask: TokenMask? = nil) -> Int32 {
        let penalises = parameters.repetitionPenalty != 1 && !recent.isEmpty
        guard penalises || mask != nil else { return choose(from: logits) }
        // Change a copy in reused scratch (moved out of self while in use).
        var scores = scratch
        scratch = []
        defer { scratch = scores }
        if scores.count != logits.count { scores = [Float](repeating: 0, count: logits.count) }
        return scores.withUnsafeMutableBufferPointer { copy in
            _ = copy.initialize(from: logits)
            mask?.apply(to: copy)
            if penalises { applyRepetitionPenalty(copy) }
            return choose(from: UnsafeBufferPointer(copy))
        }
    }

    private mutating func choose(from scores: UnsafeBufferPointer<Float>) -> Int32 {
        if parameters.isGreedy { return Self.argmax(scores) }
        keepTopK(scores)
        keepTopP()
        keepMinP()
        return draw()
    }

    /// The index of the largest logit (the first one on ties, like llama.cpp;
    /// NaN never wins; 0 when nothing is above −∞). The largest value is
    /// found eight lanes at a time in four chains, then its first index:
    /// half the time of one compare-and-branch chain over SmolLM2's 49152
    /// logits (23 → 12 µs here), paid once per stream per step.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        guard let base = logits.baseAddress else { return 0 }
        let n = logits.count
        var top = -Float.infinity, i = 0
        if n >= 32 {
            let raw = UnsafeRawPointer(base), lanes = MemoryLayout<SIMD8<Float>>.size
            var m0 = SIMD8<Float>(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
            while i + 32 <= n {
                let at = i * MemoryLayout<Float>.size
                let a = raw.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                let b = raw.loadUnaligned(fromByteOffset: at + lanes, as: SIMD8<Float>.self)
                let c = raw.loadUnaligned(fromByteOffset: at + 2 * lanes, as: SIMD8<Float>.self)
                let d = raw.loadUnaligned(fromByteOffset: at + 3 * lanes, as: SIMD8<Float>.self)
                // a comparison with NaN is false, so NaN lanes never replace
                m0.replace(with: a, where: a .> m0)
                m1.replace(with: b, where: b .> m1)
                m2.replace(with: c, where: c .> m2)
                m3.replace(with: d, where: d .> m3)
                i += 32
            }
            m0.replace(with: m1, where: m1 .> m0)
            m2.replace(with: m3, where: m3 .> m2)
            m0.replace(with: m2, where: m2 .> m0)
            top = m0.max()
        }
        for j in i..<n where base[j] > top { top = base[j] }
        guard top > -.infinity else { return 0 }
        for j in 0..<n where base[j] == top { return Int32(j) }
        return 0
    }

    /// Divides the positive logits (multiplies the negative ones) of the
    /// recent tokens, each once however often it appeared.
    private func applyRepetitionPenalty(_ scores: UnsafeMutableBufferPointer<Float>) {
        let penalty = parameters.repetitionPenalty
        for token in Set(recent) where token >= 0 && Int(token) < scores.count {
            let l = scores[Int(token)]
            scores[Int(token)] = l > 0 ? l / penalty : l * penalty
        }
    }

    /// Keeps the k highest-scoring tokens (all when k is 0), sorted by score,
    /// descending, in one pass over the vocabulary.
    private mutating func keepTopK(_ scores: UnsafeBufferPointer<Float>) {
        candidates.removeAll(keepingCapacity: true)
        let k = parameters.topK > 0 ? min(parameters.topK, scores.count) : scores.count
        guard k < scores.count else {
            for (i, l) in scores.enumerated() { candidates.append(Candidate(token: Int32(i), logit: l)) }
            candidates.sort { $0.logit > $1.logit }
            return
        }
        // A k-long sorted insertion list: k is small (40 by default) and most
        // tokens fail the first comparison with the current k-th best.
        for (i, l) in scores.enumerated() {
            if candidates.count == k, l <= candidates[k - 1].logit { continue }
            var at = candidates.count
            while at > 0 && candidates[at - 1].logit < l { at -= 1 }
            candidates.insert(Candidate(token: Int32(i), logit: l), at: at)
            if candidates.count > k { candidates.removeLast() }
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

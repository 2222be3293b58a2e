import Foundation

/// The log-probability of a generated token and of its most likely
/// alternatives, as the model gave them: log-softmax of the raw logits,
/// before the repetition penalty, temperature, top-k/p or min-p (as
/// llama-server's `n_probs` with post-sampling off and OpenAI report them).
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float
    /// The most likely tokens, most likely first (ties: lower id first).
    public var top: [Alternative]

    public struct Alternative: Sendable, Equatable {
        public var token: Int32
        public var logprob: Float
        public init(token: Int32, logprob: Float) {
            self.token = token
            self.logprob = logprob
        }
    }

    public init(token: Int32, logprob: Float, top: [Alternative]) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }

    /// `chosen`'s log-probability in `logits` and the `top` most likely
    /// tokens'. One pass for the normaliser, one for the top list.
    public init(chosen: Int32, in logits: UnsafeBufferPointer<Float>, top count: Int) {
        let normaliser = Self.logSumExp(logits)
        let index = Int(chosen)
        let chosenLogit = logits.indices.contains(index) ? Double(logits[index]) : -.infinity
        self.token = chosen
        self.logprob = Float(chosenLogit - normaliser)
        self.top = Self.largest(count, of: logits).map {
            Alternative(token: $0, logprob: Float(Double(logits[Int($0)]) - normaliser))
        }
    }

    /// log Σ exp(logits), in Double and shifted by the maximum so it neither
    /// overflows nor loses the small terms.
    static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
        guard let maxLogit = logits.max(), maxLogit.isFinite else { return Double(logits.max() ?? 0) }
        var sum = 0.0
        for l in logits { sum += exp(Double(l - maxLogit)) }
        return Double(maxLogit) + log(sum)
    }

    /// The indices of the `count` largest logits, largest first.
    static func largest(_ count: Int, of logits: UnsafeBufferPointer<Float>) -> [Int32] {
        guard count > 0 else { return [] }
        var best: [Int32] = []
        best.reserveCapacity(count + 1)
        for i in logits.indices {
            let l = logits[i]
            if best.count == count, l <= logits[Int(best[count - 1])] { continue }
            var at = best.count
            while at > 0 && logits[Int(best[at - 1])] < l { at -= 1 }
            best.insert(Int32(i), at: at)
            if best.count > count { best.removeLast() }
        }
        return best
    }
}

/// log softmax(row)[index], in Double for a stable sum over long texts.
public func logProbability(of index: Int, in row: UnsafeBufferPointer<Float>) -> Double {
    Double(row[index]) - TokenLogprob.logSumExp(row)
}

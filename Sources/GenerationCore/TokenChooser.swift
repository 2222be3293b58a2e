/// The model side of one generation: the sampler (its seed and window of
/// recent tokens) and the log-probabilities asked for. It sees every row
/// of logits the model gives for the sequence.
public struct TokenChooser: Sendable {
    private var sampler: Sampler
    /// nil: none; N: the chosen token's and N alternatives'.
    public let logprobs: Int?

    public init(options: GenerationOptions) {
        sampler = Sampler(options.sampling)
        logprobs = options.logprobs
    }

    /// Tells the sampler about tokens now in the context (the prompt).
    public mutating func accept(_ tokens: [Int32]) {
        tokens.forEach { sampler.accept($0) }
    }

    public struct Choice: Sendable, Equatable {
        public var token: Int32
        public var logprob: TokenLogprob?
    }

    /// Chooses the next token and records it as part of the context.
    /// `mask` is the constrained-output hook (see `TokenMask`).
    public mutating func choose(from logits: UnsafeBufferPointer<Float>, mask: TokenMask? = nil) -> Choice {
        let token = sampler.sample(logits, mask: mask)
        sampler.accept(token)
        let logprob = logprobs.map { TokenLogprob(chosen: token, in: logits, top: $0) }
        return Choice(token: token, logprob: logprob)
    }
}

import Grammar

/// The model side of one generation: the sampler (its seed and window of
/// recent tokens), the grammar the output must follow, if any, and the
/// log-probabilities asked for. It sees every row of logits the model
/// gives for the sequence.
public struct TokenChooser: Sendable {
    private var sampler: Sampler
    /// Structured output: where the text stands in its grammar.
    public private(set) var constraint: GrammarConstraint?
    /// nil: none; N: the chosen token's and N alternatives'.
    public let logprobs: Int?

    public init(options: GenerationOptions) {
        sampler = Sampler(options.sampling)
        logprobs = options.logprobs
    }

    /// From now on, only tokens `grammar` allows are chosen.
    public mutating func constrain(_ grammar: Grammar, vocabulary: GrammarVocabulary) {
        constraint = GrammarConstraint(grammar, vocabulary: vocabulary)
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
        let token = constrainedChoice(logits) ?? sampler.sample(logits, mask: mask)
        sampler.accept(token)
        constraint?.accept(token)
        let logprob = logprobs.map { TokenLogprob(chosen: token, in: logits, top: $0) }
        return Choice(token: token, logprob: logprob)
    }

    /// Under a grammar: a free draw kept if the grammar takes it, else a
    /// draw among the tokens it allows; an end-of-generation token once it
    /// allows none. Nil without a grammar (or a model with no such token).
    private mutating func constrainedChoice(_ logits: UnsafeBufferPointer<Float>) -> Int32? {
        guard var c = constraint else { return nil }
        defer { constraint = c }
        if c.mustEnd, let end = c.vocabulary.endOfGeneration.min() { return end }
        return c.next { allowed in sampler.sample(logits, mask: allowed.map(TokenMask.init)) }
            ?? c.vocabulary.endOfGeneration.min()
    }
}

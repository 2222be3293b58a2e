/// A grammar applied to one generation: where it stands, the vocabulary it
/// reads tokens with, and how a token is chosen under it.
///
/// Choosing follows llama.cpp's sampler: draw from the model's distribution
/// as if unconstrained; if the grammar takes that token, keep it (most steps,
/// and the cheap path); otherwise mask every token the grammar refuses and
/// draw again. Either way the token is one the grammar allows, so the text
/// always stays inside it.
public struct GrammarConstraint: Sendable {
    public private(set) var matcher: GrammarMatcher
    public let vocabulary: GrammarVocabulary
    /// Steps that needed the full mask (for stats and tests).
    public private(set) var maskedSteps = 0
    /// Masks by matcher state: inside a string or a number the state
    /// repeats token after token, and its mask with it.
    private var masks: [GrammarMatcher.StateKey: [Bool]] = [:]
    private static let maxCachedMasks = 64

    public init(_ grammar: Grammar, vocabulary: GrammarVocabulary) {
        matcher = GrammarMatcher(grammar)
        self.vocabulary = vocabulary
    }

    /// The next token: `choose(nil)` draws from the whole distribution,
    /// `choose(mask)` only among tokens whose mask entry is true. Nil when
    /// the grammar allows no token at all (the generation must end).
    public mutating func next(_ choose: ([Bool]?) -> Int32) -> Int32? {
        let free = choose(nil)
        if matcher.allows(free, in: vocabulary) { return free }
        maskedSteps += 1
        let mask = cachedMask()
        guard mask.contains(true) else { return nil }
        let masked = choose(mask)
        return mask.indices.contains(Int(masked)) && mask[Int(masked)] ? masked : nil
    }

    private mutating func cachedMask() -> [Bool] {
        let key = matcher.stateKey
        if let mask = masks[key] { return mask }
        let mask = matcher.allowedTokens(in: vocabulary)
        if masks.count >= Self.maxCachedMasks { masks.removeAll(keepingCapacity: true) }
        masks[key] = mask
        return mask
    }

    /// Moves past `token` (one `next` returned); false if the grammar refuses it.
    @discardableResult
    public mutating func accept(_ token: Int32) -> Bool {
        matcher.accept(token, in: vocabulary)
    }

    /// The text is a whole sentence and nothing may follow.
    public var mustEnd: Bool { matcher.mustEnd }
}

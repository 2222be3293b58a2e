/// The vocabulary as grammar matching sees it: each token's bytes, or nil
/// for a token that is not text (a control token). Built once per model.
public struct GrammarVocabulary: Sendable {
    public let pieces: [[UInt8]?]
    /// Tokens that end a generation; allowed only where the grammar is complete.
    public let endOfGeneration: Set<Int32>

    public init(pieces: [[UInt8]?], endOfGeneration: Set<Int32>) {
        self.pieces = pieces
        self.endOfGeneration = endOfGeneration
    }
}

extension GrammarMatcher {
    /// Whether `token` may come next.
    public mutating func allows(_ token: Int32, in vocabulary: GrammarVocabulary) -> Bool {
        if vocabulary.endOfGeneration.contains(token) { return isComplete }
        guard token >= 0, Int(token) < vocabulary.pieces.count, let piece = vocabulary.pieces[Int(token)] else { return false }
        return accepts(piece)
    }

    /// Takes `token` as the next piece of text; false if the grammar refuses it.
    @discardableResult
    public mutating func accept(_ token: Int32, in vocabulary: GrammarVocabulary) -> Bool {
        if vocabulary.endOfGeneration.contains(token) { return isComplete }
        guard token >= 0, Int(token) < vocabulary.pieces.count, let piece = vocabulary.pieces[Int(token)] else { return false }
        return advance(piece)
    }

    /// For each token, whether it may come next. A first-byte filter skips
    /// most tokens without trying them.
    public mutating func allowedTokens(in vocabulary: GrammarVocabulary) -> [Bool] {
        let leads = allowedLeadBytes()
        var allowed = [Bool](repeating: false, count: vocabulary.pieces.count)
        for (index, piece) in vocabulary.pieces.enumerated() {
            guard let piece, let first = piece.first, leads[Int(first)] else { continue }
            allowed[index] = accepts(piece)
        }
        if isComplete {
            for token in vocabulary.endOfGeneration where Int(token) < allowed.count && token >= 0 { allowed[Int(token)] = true }
        }
        return allowed
    }
}

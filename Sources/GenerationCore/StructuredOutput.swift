import Grammar

/// What the output must be, when a caller narrows it: JSON valid against a
/// schema, or a sentence of a GBNF grammar (docs/structured-output.md).
public enum StructuredOutput: Sendable, Equatable {
    case jsonSchema(String)
    case grammar(String)

    /// The schema or grammar text's largest size, in UTF-8 bytes.
    public static let maxBytes = 65_536

    /// The compiled grammar; the error names what the text gets wrong or
    /// which schema feature cannot be promised.
    public func compile() throws -> Grammar {
        switch self {
        case .jsonSchema(let text):
            try Self.checkSize(text, "json_schema")
            return try JSONSchemaGrammar(json: text.utf8).grammar()
        case .grammar(let text):
            try Self.checkSize(text, "grammar")
            return try Grammar(gbnf: text)
        }
    }

    private static func checkSize(_ text: String, _ field: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw GrammarError.tooLarge("\(field) of \(text.utf8.count) bytes, more than \(maxBytes)")
        }
    }
}

extension GrammarVocabulary {
    /// The vocabulary as a grammar reads it, from each token's bytes
    /// (empty for control tokens, which are never text).
    public static func build(size: Int, endOfGeneration: Set<Int32>, piece: (Int32) throws -> [UInt8]) rethrows -> GrammarVocabulary {
        var pieces: [[UInt8]?] = []
        pieces.reserveCapacity(size)
        for token in 0..<Int32(size) {
            let bytes = try piece(token)
            pieces.append(bytes.isEmpty ? nil : bytes)
        }
        return GrammarVocabulary(pieces: pieces, endOfGeneration: endOfGeneration)
    }
}

extension TokenMask {
    /// A mask from one flag per token.
    init(_ allowed: [Bool]) {
        self.init(vocabularySize: allowed.count, allowed: false)
        for (token, ok) in allowed.enumerated() where ok { self[Int32(token)] = true }
    }
}

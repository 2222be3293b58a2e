// The tokenizer: built once from a `Vocabulary`, then immutable and safe to
// share between threads. Encoding lives in Tokenizer+Encode.swift, pieces
// and detokenizing in Tokenizer+Decode.swift.

public final class Tokenizer: Sendable {
    public let model: TokenizerModel
    /// nil for SentencePiece, which has no pre-tokenizer.
    public let preTokenizer: PreTokenizer?

    public let bos: Int32?
    public let eos: Int32?
    public let eot: Int32?
    public let eom: Int32?
    public let unknown: Int32?
    public let padding: Int32?

    /// Whether `encode(_:addSpecial: true)` adds BOS / EOS.
    public let addsBOS: Bool
    public let addsEOS: Bool
    /// SentencePiece's leading "▁" before text that starts a fragment.
    public let addsSpacePrefix: Bool

    public let chatTemplate: String?

    /// Every token that ends generation (llama.cpp's special_eog_ids).
    public let endOfGenerationTokens: Set<Int32>

    let tokenTexts: [[UInt8]]
    let tokenTypes: [TokenType]
    let tokenIDs: [[UInt8]: Int32]
    /// Control, user-defined and unknown tokens, longest text first.
    let specialTokens: [Int32]
    /// Each token's bytes with special tokens rendered.
    let pieces: [[UInt8]]

    let bytePairEncoder: BytePairEncoder?
    let sentencePieceEncoder: SentencePieceEncoder?

    public var vocabularySize: Int { tokenTexts.count }

    public init(vocabulary: Vocabulary) throws {
        let count = vocabulary.tokens.count
        guard count > 0 else { throw TokenizerError(.emptyVocabulary) }
        // Ids are Int32, and BPE interns up to three more per merge line:
        // refuse what would not fit instead of trapping (only a file of tens
        // of gigabytes of metadata gets here).
        let idsNeeded = count + 3 * vocabulary.merges.count
        guard idsNeeded <= Int(Int32.max) else { throw TokenizerError(.tooManyTokens(idsNeeded)) }
        try Tokenizer.checkCount("tokenizer.ggml.scores", vocabulary.scores.count, count, allowEmpty: true)
        try Tokenizer.checkCount("tokenizer.ggml.token_type", vocabulary.tokenTypes.count, count, allowEmpty: true)

        // Empty token strings get a placeholder, as llama.cpp does.
        let texts = vocabulary.tokens.enumerated().map { index, text in
            text.isEmpty ? Array("[EMPTY_\(index)]".utf8) : Array(text.utf8)
        }
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(count)
        for (index, text) in texts.enumerated() {
            if let first = ids.updateValue(Int32(index), forKey: text) {
                throw TokenizerError(.duplicateToken(String(decoding: text, as: UTF8.self),
                                                     first: Int(first), second: index))
            }
        }
        func valid(_ id: Int32?) -> Int32? {
            guard let id, id >= 0, Int(id) < count else { return nil }
            return id
        }

        model = vocabulary.model
        bos = valid(vocabulary.bos)
        eos = valid(vocabulary.eos)
        unknown = valid(vocabulary.unknown)
        padding = valid(vocabulary.padding)
        eot = valid(vocabulary.eot) ?? Tokenizer.firstNamed(Tokenizer.endOfTurnNames, in: ids)
        eom = valid(vocabulary.eom) ?? Tokenizer.firstNamed(["<|eom_id|>"], in: ids)
        chatTemplate = vocabulary.chatTemplate

        switch vocabulary.model {
        case .bytePairEncoding:
            guard !vocabulary.merges.isEmpty else { throw TokenizerError(.missingMerges) }
            let pre = try PreTokenizer(named: vocabulary.preTokenizer)
            preTokenizer = pre
            addsBOS = vocabulary.addBOS ?? pre.addsBOSByDefault
            addsEOS = vocabulary.addEOS ?? false
            addsSpacePrefix = vocabulary.addSpacePrefix ?? false
            bytePairEncoder = BytePairEncoder(tokenIDs: ids, vocabularySize: count, merges: vocabulary.merges)
            sentencePieceEncoder = nil
        case .sentencePiece:
            preTokenizer = nil
            addsBOS = vocabulary.addBOS ?? true
            addsEOS = vocabulary.addEOS ?? false
            addsSpacePrefix = vocabulary.addSpacePrefix ?? true
            bytePairEncoder = nil
            let scores = vocabulary.scores.isEmpty ? [Float](repeating: 0, count: count) : vocabulary.scores
            sentencePieceEncoder = SentencePieceEncoder(tokenIDs: ids, scores: scores, unknown: unknown)
        }
        if addsBOS && bos == nil { throw TokenizerError(.missingBOS) }
        if addsEOS && eos == nil { throw TokenizerError(.missingEOS) }

        // Tokens llama.cpp treats as end of generation by their text; it
        // also forces them to be control tokens.
        var types = vocabulary.tokenTypes.isEmpty
            ? [TokenType](repeating: .normal, count: count) : vocabulary.tokenTypes
        var endOfGeneration = Set([eos, eot, eom].compactMap { $0 })
        // FIM pad/repo/separator tokens end generation too; when found by
        // name they are forced to control type, like the named EOG tokens.
        for (given, names) in [(vocabulary.fimPad, Tokenizer.fimPadNames),
                               (vocabulary.fimRepository, Tokenizer.fimRepositoryNames),
                               (vocabulary.fimSeparator, ["<|file_sep|>"])] {
            if let id = valid(given) {
                endOfGeneration.insert(id)
            } else if let id = Tokenizer.firstNamed(names, in: ids) {
                endOfGeneration.insert(id)
                types[Int(id)] = .control
            }
        }
        for name in Tokenizer.endOfGenerationNames {
            guard let id = ids[Array(name.utf8)] else { continue }
            endOfGeneration.insert(id)
            types[Int(id)] = .control
        }

        tokenTexts = texts
        tokenTypes = types
        tokenIDs = ids
        endOfGenerationTokens = endOfGeneration
        specialTokens = (0..<Int32(count))
            .filter { [.control, .userDefined, .unknown].contains(types[Int($0)]) }
            .sorted { texts[Int($0)].count != texts[Int($1)].count
                ? texts[Int($0)].count > texts[Int($1)].count : $0 < $1 }
        let model = vocabulary.model
        pieces = (0..<count).map { Tokenizer.renderPiece(texts[$0], type: types[$0], model: model) }
    }

    /// Whether generation should stop after this token.
    public func isEndOfGeneration(_ token: Int32) -> Bool {
        endOfGenerationTokens.contains(token)
    }

    /// The token's text as stored in the vocabulary (byte-level or ▁ spelling).
    public func text(of token: Int32) -> String? {
        guard token >= 0, Int(token) < tokenTexts.count else { return nil }
        return String(decoding: tokenTexts[Int(token)], as: UTF8.self)
    }

    public func type(of token: Int32) -> TokenType? {
        guard token >= 0, Int(token) < tokenTypes.count else { return nil }
        return tokenTypes[Int(token)]
    }

    /// The id of a token with exactly this text, if any.
    public func token(forText text: String) -> Int32? {
        tokenIDs[Array(text.utf8)]
    }

    private static func checkCount(_ key: String, _ actual: Int, _ expected: Int, allowEmpty: Bool) throws {
        if allowEmpty && actual == 0 { return }
        // llama.cpp accepts longer arrays and reads the first n entries;
        // shorter ones would be read past their end.
        guard actual == expected else {
            throw TokenizerError(.countMismatch(key, expected: expected, actual: actual))
        }
    }

    private static func firstNamed(_ names: [String], in ids: [[UInt8]: Int32]) -> Int32? {
        names.compactMap { ids[Array($0.utf8)] }.min()
    }

    /// llama.cpp's list for guessing the end-of-turn token when the file names none.
    static let endOfTurnNames = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]

    static let fimPadNames = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepositoryNames = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]

    /// llama.cpp's list of token texts that end generation.
    static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]
}

// The plain-value description of a tokenizer, as a GGUF file states it.
// The tokenizer core reads only this struct, so it can be built in tests
// without a file and filled from GGUF metadata by `Tokenizer+GGUF.swift`.

/// Which segmentation algorithm the vocabulary uses (`tokenizer.ggml.model`).
public enum TokenizerModel: String, Sendable {
    /// Byte-level BPE with merges (GGUF `gpt2`).
    case bytePairEncoding = "gpt2"
    /// SentencePiece with score-based merging (GGUF `llama`).
    case sentencePiece = "llama"
}

/// The GGUF token type (`tokenizer.ggml.token_type`), as llama.cpp numbers it.
public enum TokenType: Int32, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// Everything a tokenizer needs, in plain values.
public struct Vocabulary: Sendable {
    public var model: TokenizerModel
    /// `tokenizer.ggml.pre`; nil when the file has none (llama.cpp then uses `default`).
    public var preTokenizer: String?
    public var tokens: [String]
    /// One score per token (SentencePiece merge priority); may be empty for BPE.
    public var scores: [Float]
    /// One type per token; empty means every token is normal.
    public var tokenTypes: [TokenType]
    /// BPE merges, each "left right", in rank order.
    public var merges: [String]

    public var bos: Int32?
    public var eos: Int32?
    public var eot: Int32?
    public var eom: Int32?
    public var unknown: Int32?
    public var padding: Int32?
    /// Fill-in-the-middle pad, repository and file-separator tokens; llama.cpp
    /// ends generation on them (found by name when the file gives no id).
    public var fimPad: Int32?
    public var fimRepository: Int32?
    public var fimSeparator: Int32?

    /// nil means "use llama.cpp's default for this model and pre-tokenizer".
    public var addBOS: Bool?
    public var addEOS: Bool?
    public var addSpacePrefix: Bool?

    public var chatTemplate: String?

    public init(
        model: TokenizerModel, preTokenizer: String? = nil, tokens: [String],
        scores: [Float] = [], tokenTypes: [TokenType] = [], merges: [String] = [],
        bos: Int32? = nil, eos: Int32? = nil, eot: Int32? = nil, eom: Int32? = nil,
        unknown: Int32? = nil, padding: Int32? = nil,
        fimPad: Int32? = nil, fimRepository: Int32? = nil, fimSeparator: Int32? = nil,
        addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil,
        chatTemplate: String? = nil
    ) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bos = bos
        self.eos = eos
        self.eot = eot
        self.eom = eom
        self.unknown = unknown
        self.padding = padding
        self.fimPad = fimPad
        self.fimRepository = fimRepository
        self.fimSeparator = fimSeparator
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }
}

/// Why a vocabulary or template could not be used.
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    enum Kind: Equatable {
        case emptyVocabulary
        case tooManyTokens(Int)
        case duplicateToken(String, first: Int, second: Int)
        case countMismatch(String, expected: Int, actual: Int)
        case unknownPreTokenizer(String)
        case unknownModel(String)
        case missingMerges
        case missingBOS
        case missingEOS
        case missingChatTemplate
        case unrecognizedChatTemplate(String)
        case unsupportedChatTemplate(String)
        case chatTemplateRefused(String)
        case chatTemplateFailed(String)
        case missingMetadata(String)
    }

    let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .emptyVocabulary:
            return "tokenizer vocabulary is empty"
        case let .tooManyTokens(count):
            return "tokenizer needs \(count) token ids (tokens and merges), more than 32-bit ids hold"
        case let .duplicateToken(text, first, second):
            return "duplicate token in vocabulary: '\(text)' has ids \(first) and \(second)"
        case let .countMismatch(what, expected, actual):
            return "\(what) has \(actual) entries but the vocabulary has \(expected) tokens"
        case let .unknownPreTokenizer(name):
            return "unknown or unsupported pre-tokenizer type: '\(name)' (tokenizer.ggml.pre)"
        case let .unknownModel(name):
            return "unsupported tokenizer model: '\(name)' (supported: gpt2, llama)"
        case .missingMerges:
            return "BPE tokenizer has no merges (tokenizer.ggml.merges)"
        case .missingBOS:
            return "add_bos_token is true but no BOS token id is set"
        case .missingEOS:
            return "add_eos_token is true but no EOS token id is set"
        case .missingChatTemplate:
            return "the model has no chat template (tokenizer.chat_template); use raw mode"
        case let .unrecognizedChatTemplate(start):
            return "unrecognized chat template (starts with: \(start.debugDescription))"
        case let .unsupportedChatTemplate(name):
            return "chat template family '\(name)' is recognized but not supported"
        case let .chatTemplateRefused(reason):
            return "the file's chat template cannot be run and no built-in renderer recognises it: \(reason)"
        case let .chatTemplateFailed(reason):
            return reason
        case let .missingMetadata(key):
            return "missing tokenizer metadata key '\(key)'"
        }
    }
}

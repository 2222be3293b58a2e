// Filling a `Vocabulary` from GGUF metadata, with llama.cpp's defaults for
// keys a file leaves out. Values are checked here; nothing read from the
// file can crash the process.

import GGUF

extension Vocabulary {
    /// Reads the `tokenizer.*` keys of a model file.
    public init(metadata: GGUFMetadata) throws {
        let modelName = try metadata.string("tokenizer.ggml.model")
        guard let model = TokenizerModel(rawValue: modelName) else {
            throw TokenizerError(.unknownModel(modelName))
        }
        let tokens = try metadata.strings("tokenizer.ggml.tokens")
        let count = tokens.count

        // llama.cpp reads the first n entries of longer arrays; shorter ones are an error.
        func prefix<T>(_ values: [T]?, _ key: String) throws -> [T] {
            guard let values else { return [] }
            guard values.count >= count else {
                throw TokenizerError(.countMismatch(key, expected: count, actual: values.count))
            }
            return Array(values.prefix(count))
        }
        let scores = try prefix(Vocabulary.scores(metadata), "tokenizer.ggml.scores")
        let types = try prefix(metadata.int32sIfPresent("tokenizer.ggml.token_type"), "tokenizer.ggml.token_type")
            .map { TokenType(rawValue: $0) ?? .undefined }

        // Default special ids as llama.cpp sets them before reading the file.
        var defaults: (bos: Int32?, eos: Int32?, unknown: Int32?) =
            model == .sentencePiece ? (1, 2, 0) : (11, 11, nil)
        let preTokenizer = try metadata.stringIfPresent("tokenizer.ggml.pre")
        // ChatGLM's BPE has no BOS unless the file names one (llama.cpp: special_bos_id = NULL).
        if preTokenizer == "chatglm-bpe" || preTokenizer == "glm4" { defaults.bos = nil }
        func id(_ key: String, default fallback: Int32? = nil) throws -> Int32? {
            let inRange = { (id: Int32?) -> Int32? in
                guard let id, id >= 0, Int(id) < count else { return nil }
                return id
            }
            // A stored id outside the vocabulary is ignored, keeping the default.
            guard let stored = try metadata.integerIfPresent(key, as: Int64.self) else { return inRange(fallback) }
            return inRange(Int32(exactly: stored)) ?? inRange(fallback)
        }

        self.init(
            model: model,
            preTokenizer: preTokenizer,
            tokens: tokens,
            scores: scores,
            tokenTypes: types,
            merges: try metadata.stringsIfPresent("tokenizer.ggml.merges") ?? [],
            bos: try id("tokenizer.ggml.bos_token_id", default: defaults.bos),
            eos: try id("tokenizer.ggml.eos_token_id", default: defaults.eos),
            eot: try id("tokenizer.ggml.eot_token_id"),
            eom: try id("tokenizer.ggml.eom_token_id"),
            unknown: try id("tokenizer.ggml.unknown_token_id", default: defaults.unknown),
            padding: try id("tokenizer.ggml.padding_token_id"),
            fimPad: try id("tokenizer.ggml.fim_pad_token_id"),
            fimRepository: try id("tokenizer.ggml.fim_rep_token_id"),
            fimSeparator: try id("tokenizer.ggml.fim_sep_token_id"),
            addBOS: try metadata.boolIfPresent("tokenizer.ggml.add_bos_token"),
            addEOS: try metadata.boolIfPresent("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try metadata.boolIfPresent("tokenizer.ggml.add_space_prefix"),
            chatTemplate: try metadata.stringIfPresent("tokenizer.chat_template")
        )
    }

    /// Scores are float32 in most files; llama.cpp also accepts int32.
    private static func scores(_ metadata: GGUFMetadata) throws -> [Float]? {
        guard let array = try metadata.arrayIfPresent("tokenizer.ggml.scores") else { return nil }
        if let floats = array.numbers(as: Float.self) { return floats }
        if let ints = array.numbers(as: Int32.self) { return ints.map(Float.init) }
        return try metadata.floats("tokenizer.ggml.scores")  // throws the GGUF type error
    }
}

extension Tokenizer {
    /// The tokenizer described by a model file's metadata.
    public convenience init(metadata: GGUFMetadata) throws {
        try self.init(vocabulary: Vocabulary(metadata: metadata))
    }

    public convenience init(file: GGUFFile) throws {
        try self.init(metadata: file.metadata)
    }
}

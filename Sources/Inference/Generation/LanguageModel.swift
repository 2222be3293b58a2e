import GGUF
import Tokenizer

/// A model ready to use: its file, transformer and tokenizer together. This
/// is the small interface backends wrap.
public final class LanguageModel {
    public let file: GGUFFile
    public let transformer: Transformer
    public let tokenizer: Tokenizer

    public init(path: String, options: ModelOptions = ModelOptions()) throws {
        file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(file: file)
        transformer = try Transformer(file: file, options: options)
        guard tokenizer.vocabularySize <= transformer.vocabularySize else {
            throw InferenceError.badHyperparameter("tokenizer.ggml.tokens",
                "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(transformer.vocabularySize) logits")
        }
    }

    /// Tokens of a raw prompt, as llama.cpp tokenizes a raw completion
    /// prompt: BOS as the file says, special-token text left as plain text.
    public func tokenize(raw prompt: String) -> [Int32] {
        tokenizer.encode(prompt, addSpecial: true, parseSpecial: false)
    }

    /// Tokens of chat messages wrapped in the file's chat template.
    public func tokenize(chat messages: [ChatMessage]) throws -> [Int32] {
        let template = try ChatTemplate(detecting: tokenizer.chatTemplate)
        let text = template.render(messages: messages, addGenerationPrompt: true)
        return tokenizer.encode(text, addSpecial: true, parseSpecial: true)
    }
}

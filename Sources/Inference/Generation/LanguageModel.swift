import Foundation
import GGUF
import Tokenizer

/// A model ready to use: its file, transformer and tokenizer together. This
/// is the small interface backends wrap.
public final class LanguageModel {
    public let file: GGUFFile
    public let transformer: Transformer
    public let tokenizer: Tokenizer
    /// The chat renderer, decided at load: the file's own template when the
    /// Jinja interpreter runs it, else a built-in family renderer, else the
    /// refusal naming the construct (raw completions still work).
    public let promptRenderer: Result<PromptRenderer, any Error>

    public init(path: String, options: ModelOptions = ModelOptions()) throws {
        let file = try GGUFFile(path: path)
        self.file = file
        // The tokenizer (about 55 ms for SmolLM2's 49k tokens) is built on
        // a thread of its own while the transformer loads and repacks its
        // weights (about 45 ms): a load takes the longer of the two.
        let building = BackgroundWork { try Tokenizer(file: file) }
        let loaded = Result { try Transformer(file: file, options: options) }
        tokenizer = try building.result().get()
        transformer = try loaded.get()
        promptRenderer = Result { [tokenizer] in try tokenizer.promptRenderer() }
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
        tokenizer.encode(try renderChat(messages, addGenerationPrompt: true), addSpecial: true, parseSpecial: true)
    }

    /// The prompt text for chat messages, to be tokenized with special
    /// tokens added. Templates that write bos_token themselves would get a
    /// second BOS from the tokenizer; llama.cpp drops the rendered one
    /// (common_chat_templates_apply), and so does this.
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        let renderer = try promptRenderer.get()
        var text = try renderer.render(messages: messages, addGenerationPrompt: addGenerationPrompt)
        if tokenizer.addsBOS, !renderer.bosToken.isEmpty, text.hasPrefix(renderer.bosToken) {
            text.removeFirst(renderer.bosToken.count)
        }
        return text
    }
}

/// One piece of work run on a thread of its own; `result()` waits for it.
private final class BackgroundWork<Value>: @unchecked Sendable {
    // Written by the thread before `done` is signalled, read after waiting.
    private var outcome: Result<Value, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            outcome = Result { try body() }
            done.signal()
        }
        thread.stackSize = 8 << 20  // as the main thread's
        thread.start()
    }

    func result() -> Result<Value, any Error> {
        done.wait()
        done.signal()  // a second call does not block
        return outcome ?? .failure(InferenceError.badBatch("background work ended without a result"))
    }
}

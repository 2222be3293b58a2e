import Foundation
import Testing
import TestSupport
import Tokenizer
@testable import Inference
import GenerationCore

@Suite("Text generation on a tiny model", .serialized)  // the tests share one model, which is not thread-safe
struct GenerationTests {
    static let model: LanguageModel = {
        // The synthetic file is made once per test process.
        try! LanguageModel(path: SyntheticModel().write(named: "generation"))
    }()

    @Test("Greedy generation is the argmax chain of the model's own logits")
    func greedyChain() throws {
        let lm = Self.model
        let prompt = lm.tokenize(raw: "the cat")
        let result = try TextGenerator(model: lm, sequence: 11)
            .generate(prompt: prompt, options: GenerationOptions(sampling: .greedy, maxTokens: 6))
        // Check each generated token against a fresh scoring pass.
        let scored = try lm.score(prompt + result.tokens, sequence: 12)
        let predicted = Array(scored.predictions[(prompt.count - 1)...].prefix(result.tokens.count))
        #expect(predicted == result.tokens)
        #expect(result.promptTokens == prompt)
    }

    @Test("Generation stops at max tokens and says so")
    func maxTokens() throws {
        let result = try TextGenerator(model: Self.model, sequence: 13)
            .generate(prompt: Self.model.tokenize(raw: "in on"), options: GenerationOptions(sampling: .greedy, maxTokens: 4))
        #expect(result.tokens.count <= 4)
        if result.tokens.count == 4 { #expect(result.finishReason == .length) }
    }

    @Test("Streamed text adds up to the returned text")
    func streaming() throws {
        var streamed = ""
        var options = GenerationOptions(maxTokens: 12)
        options.sampling.seed = 3
        let result = try TextGenerator(model: Self.model, sequence: 14)
            .generate(prompt: Self.model.tokenize(raw: "a"), options: options) { streamed += $0; return true }
        #expect(streamed == result.text)
    }

    @Test("A chat prompt is wrapped in the file's ChatML template")
    func chatTemplate() throws {
        let lm = Self.model
        let tokens = try lm.tokenize(chat: [ChatMessage(role: "user", content: "hi")])
        let text = lm.tokenizer.decode(tokens, renderSpecial: true)
        #expect(text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("Perplexity is exp of minus the mean log-probability")
    func perplexity() throws {
        let scored = try Self.model.score(Self.model.tokenize(raw: "the the the in"), sequence: 15)
        let mean = scored.logprobs.reduce(0, +) / Double(scored.logprobs.count)
        #expect(abs(scored.perplexity - exp(-mean)) < 1e-9)
        #expect(scored.logprobs.allSatisfy { $0 <= 0 })
        #expect(scored.predictions.count == scored.tokens.count)
    }
}

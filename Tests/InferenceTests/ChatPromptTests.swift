import Foundation
import Testing
import TestSupport
import Tokenizer
@testable import Inference

/// Chat prompts from the file's own template, as a loaded model renders them.
@Suite("Chat prompts from the file's template")
struct ChatPromptTests {
    @Test("a template that writes bos_token gets one BOS, not two, when the tokenizer adds BOS")
    func singleBOS() throws {
        var model = SyntheticModel()
        model.vocabulary.addsBOS = true
        model.vocabulary.chatTemplate = "{{ bos_token }}" + SyntheticVocabulary.chatMLTemplate
        let lm = try LanguageModel(path: model.write(named: "chat-bos"))
        let bos = try #require(lm.tokenizer.bos)
        let text = try lm.renderChat([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
        let tokens = try lm.tokenize(chat: [ChatMessage(role: "user", content: "hi")])
        #expect(tokens.first == bos)
        #expect(tokens.filter { $0 == bos }.count == 1)
    }

    @Test("a template neither the interpreter nor a built-in renderer runs is refused at load; raw prompts still work")
    func refusedTemplate() throws {
        var model = SyntheticModel()
        model.vocabulary.chatTemplate = "{% include 'chat.jinja' %}"
        let lm = try LanguageModel(path: model.write(named: "chat-refused"))
        guard case let .failure(error) = lm.promptRenderer else {
            Issue.record("the template was accepted")
            return
        }
        #expect("\(error)".contains("{% include %}"))
        #expect(throws: (any Error).self) { try lm.tokenize(chat: [ChatMessage(role: "user", content: "hi")]) }
        #expect(!lm.tokenize(raw: "the cat").isEmpty)
    }
}

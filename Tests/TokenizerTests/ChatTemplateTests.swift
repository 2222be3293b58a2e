// Chat templates: detection from template text and rendering. Expected
// strings are written from each family's published format (the same rules
// llama.cpp's llm_chat_apply_template implements).

import Testing
@testable import Tokenizer

@Suite("Chat templates")
struct ChatTemplateTests {
    // SmolLM2-135M-Instruct's template, as stored in its GGUF file.
    static let smolLM2 = """
    {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
    ' + message['content'] + '<|im_end|>' + '
    '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
    ' }}{% endif %}
    """

    @Test("ChatML: each message in <|im_start|>role ... <|im_end|>, no default system prompt")
    func chatML() throws {
        let template = try ChatTemplate(detecting: Self.smolLM2)
        #expect(template.family == .chatML)
        let text = template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let noPrompt = template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(noPrompt == "<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test("Llama 2 with <<SYS>>: system inside the first [INST], replies end with </s>")
    func llama2System() throws {
        let source = "{% if messages[0]['role'] == 'system' %}<<SYS>>\\n{% endif %}{{ bos_token }}[INST] {{ content }} [/INST]"
        let template = try ChatTemplate(detecting: source)
        #expect(template.family == .llama2System)
        let text = template.render(messages: [
            ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U"),
            ChatMessage(role: "assistant", content: "A"), ChatMessage(role: "user", content: "U2"),
        ], addGenerationPrompt: true)
        #expect(text == "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]A</s>[INST] U2 [/INST]")
    }

    @Test("plain Llama 2 puts the system text before the first user message")
    func llama2Plain() throws {
        let template = try ChatTemplate(detecting: "{{ '[INST] ' + content + ' [/INST]' }}")
        #expect(template.family == .llama2)
        let text = template.render(messages: [
            ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U"),
        ], addGenerationPrompt: true)
        #expect(text == "[INST] S\nU [/INST]")
    }

    @Test("Llama 3: header per message, content trimmed, assistant header as the prompt")
    func llama3() throws {
        let template = try ChatTemplate(detecting: "{{ '<|start_header_id|>' + role + '<|end_header_id|>\\n\\n' }}")
        #expect(template.family == .llama3)
        let text = template.render(messages: [
            ChatMessage(role: "system", content: " S "), ChatMessage(role: "user", content: "U"),
        ], addGenerationPrompt: true)
        #expect(text == "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    @Test("Gemma: system merged into the next user turn, assistant called model")
    func gemma() throws {
        let template = try ChatTemplate(detecting: "{{ '<start_of_turn>' + role + '\\n' }}")
        #expect(template.family == .gemma)
        let text = template.render(messages: [
            ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U"),
            ChatMessage(role: "assistant", content: "A"),
        ], addGenerationPrompt: true)
        #expect(text == "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test("unknown and missing templates are errors, not guesses")
    func unknown() {
        #expect(throws: TokenizerError.self) { try ChatTemplate(detecting: "{{ messages | tojson }}") }
        #expect(throws: TokenizerError(.missingChatTemplate)) { try ChatTemplate(detecting: nil) }
        #expect(throws: TokenizerError.self) { try ChatTemplate(detecting: "<|im_start|> <end_of_utterance>") }
    }

    @Test("llama.cpp template names are accepted directly")
    func byName() throws {
        #expect(try ChatTemplate(detecting: "llama3").family == .llama3)
        #expect(try ChatTemplate(detecting: "chatml").family == .chatML)
    }
}

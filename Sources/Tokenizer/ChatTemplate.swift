// Chat templates recognised from `tokenizer.chat_template` by distinctive
// markers and rendered by hand, as llama.cpp's llm_chat_detect_template /
// llm_chat_apply_template do (it is not a Jinja interpreter). The output
// matches llama_chat_apply_template, not a Jinja render: in particular a
// default system prompt written into a template (SmolLM2 has one) is not added.

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case chatML = "chatml"
        case phi4 = "phi4"
        case llama2 = "llama2"
        case llama2System = "llama2-sys"
        case llama2SystemBOS = "llama2-sys-bos"
        case llama2SystemStrip = "llama2-sys-strip"
        case mistralV1 = "mistral-v1"
        case mistralV3 = "mistral-v3"
        case mistralV3Tekken = "mistral-v3-tekken"
        case mistralV7 = "mistral-v7"
        case llama3 = "llama3"
        case gemma = "gemma"
    }

    public let family: Family

    public init(family: Family) {
        self.family = family
    }

    /// Recognises a template from its text, or from a llama.cpp template name
    /// ("chatml", "llama3", …). Unknown text is an error, never a guess.
    public init(detecting template: String?) throws {
        guard let template, !template.isEmpty else { throw TokenizerError(.missingChatTemplate) }
        if let family = Family(rawValue: template) {
            self.family = family
            return
        }
        self.family = try ChatTemplate.detect(template)
    }

    private static func detect(_ template: String) throws -> Family {
        func has(_ marker: String) -> Bool { template.contains(marker) }
        if has("<|im_start|>") {
            if has("<|im_sep|>") { return .phi4 }
            // SmolVLM uses <|im_start|> as BOS but is not ChatML.
            if has("<end_of_utterance>") { throw TokenizerError(.unsupportedChatTemplate("smolvlm")) }
            return .chatML
        }
        if template.hasPrefix("mistral") || has("[INST]") {
            if has("[SYSTEM_PROMPT]") { return .mistralV7 }
            if has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]") {
                if has(" [INST]") { return .mistralV1 }
                if has("\"[INST]\"") { return .mistralV3Tekken }
                return .mistralV3
            }
            if has("content.strip()") { return .llama2SystemStrip }
            if has("bos_token + '[INST]") { return .llama2SystemBOS }
            if has("<<SYS>>") { return .llama2System }
            return .llama2
        }
        // llama.cpp checks these families before Gemma and Llama 3; a template
        // that matches one of them must not be taken for a later family.
        if (has("<|assistant|>") && (has("<|end|>") || has("<|user|>"))) || has("[gMASK]")
            || (has("<|user|>") && has("<|endoftext|>")) || has("bos_token + message['role']") {
            throw TokenizerError(.unsupportedChatTemplate("phi3/glm/zephyr/monarch family"))
        }
        if has("<start_of_turn>") { return .gemma }
        if has("<|start_header_id|>") && has("<|end_header_id|>") { return .llama3 }
        throw TokenizerError(.unrecognizedChatTemplate(String(template.prefix(60))))
    }

    /// Renders the conversation; with `addGenerationPrompt` the text ends
    /// where the assistant's reply should begin.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch family {
        case .chatML:
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .phi4:
            for m in messages { out += "<|im_start|>\(m.role)<|im_sep|>\(m.content)<|im_end|>" }
            if addGenerationPrompt { out += "<|im_start|>assistant<|im_sep|>" }
        case .llama2, .llama2System, .llama2SystemBOS, .llama2SystemStrip:
            out = renderLlama2(messages)
        case .mistralV1, .mistralV3, .mistralV3Tekken:
            out = renderMistral(messages)
        case .mistralV7:
            for m in messages {
                switch m.role {
                case "system": out += "[SYSTEM_PROMPT] \(m.content)[/SYSTEM_PROMPT]"
                case "user": out += "[INST] \(m.content)[/INST]"
                default: out += " \(m.content)</s>"
                }
            }
        case .llama3:
            for m in messages {
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(ChatTemplate.trim(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            out = renderGemma(messages, addGenerationPrompt: addGenerationPrompt)
        }
        return out
    }

    // Llama 2 has no generation prompt: the text after "[/INST]" is the reply.
    private func renderLlama2(_ messages: [ChatMessage]) -> String {
        let supportsSystem = family != .llama2
        let strips = family == .llama2SystemStrip
        var out = "[INST] "
        var isInsideTurn = true  // the first "[INST] " is already written
        for m in messages {
            let content = strips ? ChatTemplate.trim(m.content) : m.content
            if !isInsideTurn {
                isInsideTurn = true
                out += family == .llama2SystemBOS ? "<s>[INST] " : "[INST] "
            }
            switch m.role {
            case "system":
                // Without <<SYS>> support the system text still leads the first turn.
                out += supportsSystem ? "<<SYS>>\n\(content)\n<</SYS>>\n\n" : "\(content)\n"
            case "user":
                out += "\(content) [/INST]"
            default:
                out += "\(content)</s>"
                isInsideTurn = false
            }
        }
        return out
    }

    private func renderMistral(_ messages: [ChatMessage]) -> String {
        let leading = family == .mistralV1 ? " " : ""
        let trailing = family == .mistralV3Tekken ? "" : " "
        var out = ""
        var isInsideTurn = false
        for m in messages {
            if !isInsideTurn {
                out += "\(leading)[INST]\(trailing)"
                isInsideTurn = true
            }
            switch m.role {
            case "system": out += "\(m.content)\n\n"
            case "user": out += "\(m.content)\(leading)[/INST]"
            default:
                let content = family == .mistralV3 ? ChatTemplate.trim(m.content) : m.content
                out += "\(trailing)\(content)</s>"
                isInsideTurn = false
            }
        }
        return out
    }

    // Gemma has no system role: system text is merged into the next user turn.
    private func renderGemma(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        var systemPrompt = ""
        for m in messages {
            if m.role == "system" {
                systemPrompt += ChatTemplate.trim(m.content)
                continue
            }
            let role = m.role == "assistant" ? "model" : m.role
            out += "<start_of_turn>\(role)\n"
            if !systemPrompt.isEmpty && role != "model" {
                out += "\(systemPrompt)\n\n"
                systemPrompt = ""
            }
            out += "\(ChatTemplate.trim(m.content))<end_of_turn>\n"
        }
        if addGenerationPrompt { out += "<start_of_turn>model\n" }
        return out
    }

    /// Trims ASCII whitespace only, like the C isspace() llama.cpp uses.
    static func trim(_ text: String) -> String {
        let bytes = Array(text.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        var start = 0, end = bytes.count
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}

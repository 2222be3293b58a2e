// Turns chat messages into the prompt text for one model: the file's own
// `tokenizer.chat_template` run by the Jinja interpreter, as llama.cpp's
// `--jinja` does. When the interpreter cannot run that template, the
// built-in renderer for the family (llama_chat_apply_template's) is used
// only if it recognises the family, and `fallbackReason` says why; a
// template neither can run is refused here, at load, naming the construct.

public struct PromptRenderer: Sendable {
    public enum Kind: Sendable {
        case fileTemplate(JinjaTemplate)
        case builtIn(ChatTemplate)
    }

    public let kind: Kind
    public let bosToken: String
    public let eosToken: String
    /// Why the file's own template is not the one used; nil when it is.
    public let fallbackReason: String?

    public init(template: String?, bosToken: String, eosToken: String) throws {
        self.bosToken = bosToken
        self.eosToken = eosToken
        guard let template, !template.isEmpty else { throw TokenizerError(.missingChatTemplate) }
        if let family = ChatTemplate.Family(rawValue: template) {  // a built-in name given as the template
            kind = .builtIn(ChatTemplate(family: family))
            fallbackReason = nil
            return
        }
        do {
            let jinja = try JinjaTemplate(template)
            try PromptRenderer.probe(jinja, bosToken: bosToken, eosToken: eosToken)
            kind = .fileTemplate(jinja)
            fallbackReason = nil
        } catch let error as JinjaError {
            guard let builtIn = try? ChatTemplate(detecting: template) else {
                throw TokenizerError(.chatTemplateRefused(error.description))
            }
            kind = .builtIn(builtIn)
            fallbackReason = error.description
        }
    }

    /// Renders a small conversation once, so constructs only met while
    /// running (a method the interpreter lacks) are found at load. The
    /// template's own raise_exception (no system role, …) is not a failure.
    private static func probe(_ template: JinjaTemplate, bosToken: String, eosToken: String) throws {
        let conversations = [
            [ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "u")],
            [ChatMessage(role: "user", content: "u"), ChatMessage(role: "assistant", content: "a"), ChatMessage(role: "user", content: "u")],
        ]
        for messages in conversations {
            do {
                _ = try template.render(messages: messages, addGenerationPrompt: true, bosToken: bosToken,
                                        eosToken: eosToken, extra: PromptRenderer.defaultVariables)
            } catch let error as JinjaError where error.kind == .raised {
                continue
            }
        }
    }

    /// Variables besides messages, tokens and add_generation_prompt: none.
    /// Like llama.cpp's --jinja (and unlike llama-cpp-python, which sets
    /// tools = None), `tools` stays undefined when a request has no tools,
    /// so templates that test `tools is defined` (Phi-4-mini) work.
    static let defaultVariables: [String: JinjaInput] = [:]

    /// What `moectl inspect` and the load log print.
    public var summary: String {
        switch kind {
        case .fileTemplate: return "the file's own chat template (Jinja)"
        case let .builtIn(t):
            guard let fallbackReason else { return "built-in \(t.family.rawValue)" }
            return "built-in \(t.family.rawValue) (the file's template is not run: \(fallbackReason))"
        }
    }

    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        switch kind {
        case let .fileTemplate(jinja):
            do {
                return try jinja.render(messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
                                        eosToken: eosToken, extra: PromptRenderer.defaultVariables)
            } catch let error as JinjaError {
                throw TokenizerError(.chatTemplateFailed(error.description))
            }
        case let .builtIn(template):
            return template.render(messages: messages, addGenerationPrompt: addGenerationPrompt)
        }
    }
}

extension Tokenizer {
    /// The prompt renderer for this vocabulary's chat template, with its BOS
    /// and EOS token texts as the template's bos_token / eos_token.
    public func promptRenderer() throws -> PromptRenderer {
        func text(_ id: Int32?) -> String {
            guard let id else { return "" }
            return String(decoding: tokenTexts[Int(id)], as: UTF8.self)
        }
        return try PromptRenderer(template: chatTemplate, bosToken: text(bos), eosToken: text(eos))
    }
}

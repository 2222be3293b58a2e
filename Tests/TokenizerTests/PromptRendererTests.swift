// The renderer chosen at load: the file's own template when the interpreter
// runs it, a built-in family renderer only as a named fallback, a refusal
// naming the construct otherwise; and hostile templates end in errors.

import Testing
@testable import Tokenizer

struct PromptRendererTests {
    static let chatML = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    @Test("a template the interpreter runs is used as written")
    func fileTemplate() throws {
        let renderer = try PromptRenderer(template: Self.chatML, bosToken: "<s>", eosToken: "</s>")
        guard case .fileTemplate = renderer.kind else { Issue.record("got \(renderer.summary)"); return }
        #expect(renderer.fallbackReason == nil)
        let text = try renderer.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("an unsupported construct in a template of a known family falls back to the built-in renderer and says why")
    func namedFallback() throws {
        let template = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + (m.content | wordwrap(80)) + '<|im_end|>\\n' }}{% endfor %}"
        let renderer = try PromptRenderer(template: template, bosToken: "", eosToken: "")
        guard case let .builtIn(builtIn) = renderer.kind else { Issue.record("got \(renderer.summary)"); return }
        #expect(builtIn.family == .chatML)
        let reason = try #require(renderer.fallbackReason)
        #expect(reason.contains("filter 'wordwrap'"))
        #expect(renderer.summary.contains("built-in chatml"))
    }

    @Test("a template neither can run is refused at load, naming the construct", arguments: [
        ("{% include 'other.jinja' %}", "{% include %}"),
        ("{{ messages | batch(2) }}", "filter 'batch'"),
        ("{% if messages is odd_length %}x{% endif %}", "test 'is odd_length'"),
        ("{% for m in messages recursive %}{% endfor %}", "recursive"),
        ("{{ messages[0].content.format(1) }}", "method format()"),
    ])
    func refusal(template: String, construct: String) throws {
        do {
            let renderer = try PromptRenderer(template: template, bosToken: "", eosToken: "")
            Issue.record("accepted, as \(renderer.summary)")
        } catch let error as TokenizerError {
            #expect("\(error)".contains(construct), "\(error)")
        }
    }

    @Test("the template's own raise_exception is an error naming its message, not a crash")
    func raisedByTemplate() throws {
        let template = "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok"
        let renderer = try PromptRenderer(template: template, bosToken: "", eosToken: "")
        #expect(throws: TokenizerError(.chatTemplateFailed("chat template raise_exception: System role not supported"))) {
            try renderer.render(messages: [ChatMessage(role: "system", content: "x")], addGenerationPrompt: true)
        }
        #expect(try renderer.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: true) == "ok")
    }

    @Test("hostile templates end in errors, not crashes or hangs", arguments: [
        "{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}",
        "{{ " + String(repeating: "[", count: 5000) + " }}",
        "{{ " + String(repeating: "not ", count: 5000) + "x }}",
        String(repeating: "{% if true %}", count: 5000) + String(repeating: "{% endif %}", count: 5000),
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
        "{{ 'unterminated",
        "{% if x %}no end",
        "{{ x }",
        "{{ range(10**9) }}",
    ])
    func hostile(template: String) {
        #expect(throws: (any Error).self) {
            let t = try JinjaTemplate(template)
            _ = try t.render(messages: [], addGenerationPrompt: true, bosToken: "", eosToken: "")
        }
    }
}

import Testing
@testable import Tokenizer

/// Prefix reuse continues a conversation from the KV of its previous turn,
/// so it pays off when the rendering of turn N (with the generation
/// prompt) followed by the reply is the start of turn N+1's rendering.
/// Every built-in family has that property for replies without leading or
/// trailing whitespace (families that trim content would cut it); where a
/// rendering differs, moed still reuses the longest common token prefix.
@Suite("Chat templates: each turn's rendering starts the next one's")
struct ChatTemplatePrefixTests {
    static let turns = [
        ChatMessage(role: "system", content: "You are brief."),
        ChatMessage(role: "user", content: "What is the capital of France?"),
        ChatMessage(role: "assistant", content: "Paris."),
        ChatMessage(role: "user", content: "And of Italy?"),
        ChatMessage(role: "assistant", content: "Rome."),
        ChatMessage(role: "user", content: "Thanks."),
    ]

    @Test("turn N plus its reply is a prefix of turn N+1", arguments: ChatTemplate.Family.allCases)
    func prefix(family: ChatTemplate.Family) {
        let template = ChatTemplate(family: family)
        for end in [2, 4] {
            let earlier = Array(Self.turns[..<end]), later = Array(Self.turns[..<(end + 2)])
            let reply = Self.turns[end].content
            let asked = template.render(messages: earlier, addGenerationPrompt: true)
            let next = template.render(messages: later, addGenerationPrompt: true)
            #expect(next.hasPrefix(asked), "\(family.rawValue): turn \(end / 2)")
            #expect(next.hasPrefix(asked + reply) || next.hasPrefix(asked + " " + reply),
                    "\(family.rawValue): the reply follows the prompt of turn \(end / 2)")
        }
    }
}

// A chat template from a GGUF file's `tokenizer.chat_template`, parsed once
// and rendered per request with the variables llama.cpp and
// llama-cpp-python pass: messages, bos_token, eos_token,
// add_generation_prompt, raise_exception, strftime_now (and tools when given).

public struct JinjaTemplate: Sendable {
    public let source: String
    let nodes: [JinjaNode]

    /// Parses the template; a construct the interpreter does not implement is
    /// a `JinjaError` of kind `.unsupported` naming it.
    public init(_ source: String) throws {
        self.source = source
        nodes = try JinjaParser.parse(source)
        try JinjaValidator.check(nodes)
    }

    public func render(messages: [ChatMessage], addGenerationPrompt: Bool,
                       bosToken: String, eosToken: String, extra: [String: JinjaInput] = [:]) throws -> String {
        var globals: [String: JinjaValue] = [
            "messages": .array(messages.map(Self.messageValue)),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        for (key, value) in extra { globals[key] = value.value }
        return try JinjaInterpreter(globals: globals).render(nodes)
    }

    private static func messageValue(_ message: ChatMessage) -> JinjaValue {
        var object = JinjaObject()
        object["role"] = .string(message.role)
        object["content"] = .string(message.content)
        return .object(object)
    }
}

/// A value handed to a template from outside (tools, date_string, …).
public indirect enum JinjaInput: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaInput])
    case object([(String, JinjaInput)])

    var value: JinjaValue {
        switch self {
        case .null: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .double(d): return .double(d)
        case let .string(s): return .string(s)
        case let .array(a): return .array(a.map(\.value))
        case let .object(pairs):
            var o = JinjaObject()
            for (k, v) in pairs { o[k] = v.value }
            return .object(o)
        }
    }
}

import GenerationCore
import Grammar

/// What to ask the upstream for: the host's resolved settings.
public struct UpstreamRequest: Equatable, Sendable {
    /// (role, content) turns; empty: `prompt` goes to /completions.
    public var messages: [(role: String, content: String)] = []
    public var prompt = ""
    public var maxTokens = GenerationOptions.defaultMaxTokens
    /// The host's values (the ABI carries every one); the type's defaults
    /// are moed's one set, for tests.
    public var sampling = SamplingParameters()
    public var stops: [String] = []
    public init() {}

    public static func == (a: Self, b: Self) -> Bool { a.body(model: "") == b.body(model: "") }

    public var endpoint: String { messages.isEmpty ? "completions" : "chat/completions" }

    /// The JSON body of OpenAI's chat or completions call, streamed, with
    /// usage asked for (servers that do not know `stream_options` ignore
    /// it). `top_k`, `min_p` and `repeat_penalty` are llama.cpp's and
    /// vLLM's extensions; the seed is sent as 32 bits, as llama.cpp takes it.
    public func body(model: String) -> String {
        var fields: [(String, String)] = [("model", JSONValue.quoted(model))]
        if messages.isEmpty {
            fields.append(("prompt", JSONValue.quoted(prompt)))
        } else {
            let turns = messages.map { "{\"role\":\(JSONValue.quoted($0.role)),\"content\":\(JSONValue.quoted($0.content))}" }
            fields.append(("messages", "[" + turns.joined(separator: ",") + "]"))
        }
        let s = sampling
        fields += [
            ("stream", "true"), ("stream_options", "{\"include_usage\":true}"),
            ("max_tokens", String(maxTokens)), ("temperature", Self.number(s.temperature)),
            ("top_p", Self.number(s.topP)), ("top_k", String(s.topK)), ("min_p", Self.number(s.minP)),
            ("seed", String(s.seed & 0xFFFF_FFFF)),
        ]
        if s.repetitionPenalty != 1 { fields.append(("repeat_penalty", Self.number(s.repetitionPenalty))) }
        if !stops.isEmpty { fields.append(("stop", "[" + stops.map { JSONValue.quoted($0) }.joined(separator: ",") + "]")) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "0" }
}

/// One streamed event's meaning.
public enum StreamEvent: Equatable, Sendable {
    case text(String)
    case finish(String)
    case usage(prompt: Int, completion: Int)
    case done
}

/// Reads OpenAI's streamed chunks (`data:` payloads) and error bodies.
public enum OpenAIStream {
    /// The events in one `data:` payload: "[DONE]", or a chunk with a
    /// delta (chat) or text (completions), maybe a finish reason and maybe
    /// usage. An `error` object (sent mid-stream by moegate and vLLM) is
    /// thrown with its message.
    public static func events(_ payload: String) throws -> [StreamEvent] {
        let trimmed = payload.trimmingSpaces
        if trimmed == "[DONE]" { return [.done] }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Array(trimmed.utf8))
        } catch {
            throw UpstreamError(.malformed, "malformed event: \(error) in '\(excerpt(trimmed))'")
        }
        guard case .object = json else { throw UpstreamError(.malformed, "malformed event: not a JSON object: '\(excerpt(trimmed))'") }
        if let error = json["error"] {
            throw UpstreamError(.unavailable, "reported an error mid-stream: \(message(of: error))")
        }
        var events: [StreamEvent] = []
        if case .array(let choices)? = json["choices"], let choice = choices.first {
            if case .string(let text)? = choice["delta"]?["content"] ?? choice["text"] { events.append(.text(text)) }
            if case .string(let reason)? = choice["finish_reason"] { events.append(.finish(reason)) }
        }
        if let usage = json["usage"], let prompt = integer(usage["prompt_tokens"]), let completion = integer(usage["completion_tokens"]) {
            events.append(.usage(prompt: prompt, completion: completion))
        }
        return events
    }

    /// The message of an error body: OpenAI's `{"error": {"message"}}`,
    /// FastAPI's `{"detail": ...}`, or the start of the text.
    public static func errorMessage(_ body: [UInt8]) -> String {
        let text = String(decoding: body, as: UTF8.self)
        guard let json = try? JSONValue.parse(body) else { return excerpt(text.trimmingSpaces) }
        if let error = json["error"] { return message(of: error) }
        if let detail = json["detail"] { return message(of: detail) }
        if case .string(let message)? = json["message"] { return excerpt(message) }
        return excerpt(text)
    }

    private static func message(of value: JSONValue) -> String {
        switch value {
        case .string(let s): return excerpt(s)
        case .object:
            if case .string(let s)? = value["message"] { return excerpt(s) }
            if case .string(let s)? = value["msg"] { return excerpt(s) }
            return excerpt(value.compact)
        case .array(let items): return items.map(message(of:)).joined(separator: "; ")
        default: return excerpt(value.compact)
        }
    }

    private static func integer(_ value: JSONValue?) -> Int? {
        guard case .number(let text)? = value, let number = Int(text), number >= 0, number < 1 << 40 else { return nil }
        return number
    }

    /// At most 300 characters, control characters made visible.
    static func excerpt(_ text: String) -> String {
        let cut = text.count > 300 ? String(text.prefix(300)) + "…" : text
        return String(String.UnicodeScalarView(cut.unicodeScalars.map { $0.value < 0x20 ? " " : $0 }))
    }
}

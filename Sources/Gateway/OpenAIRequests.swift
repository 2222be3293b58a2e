import GenerationCore
import MoeAPI

/// The fields of OpenAI's `/v1/chat/completions` and `/v1/completions`
/// bodies that moed honours. Unknown fields are ignored, as OpenAI's own
/// clients send several (`frequency_penalty`, `user`, ...).
struct CompletionBody: Decodable {
    var model: String?
    var messages: [Message]?
    var prompt: Prompt?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var seed: Int64?
    var stop: Stop?
    var stream: Bool?
    var streamOptions: StreamOptions?
    var n: Int?
    var logprobs: Logprobs?
    var topLogprobs: Int?
    /// `response_format` as JSON Schema text (`ResponseFormat`), read from
    /// the body apart because Decodable loses the key order.
    var schema: String?

    enum CodingKeys: String, CodingKey {
        case model, messages, prompt, temperature, seed, stop, stream, n, logprobs
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p", topK = "top_k", streamOptions = "stream_options", topLogprobs = "top_logprobs"
    }

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    struct Message: Decodable {
        var role: String
        var content: String

        enum CodingKeys: String, CodingKey { case role, content }
        /// OpenAI's roles; the chat template renders each (an unknown one
        /// would go into the prompt as it came).
        static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]
        struct Part: Decodable { var type: String; var text: String? }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            guard Self.roles.contains(role) else {
                throw Swift.DecodingError.dataCorruptedError(forKey: .role, in: c,
                    debugDescription: "role must be one of \(Self.roles.sorted().joined(separator: ", ")), not \(role.debugDescription)")
            }
            let absent = try !c.contains(.content) || c.decodeNil(forKey: .content)
            if absent {
                content = ""  // an assistant message with tool calls
            } else if let text = try? c.decode(String.self, forKey: .content) {
                content = text
            } else if let parts = try? c.decode([Part].self, forKey: .content) {
                guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                    throw Swift.DecodingError.dataCorruptedError(forKey: .content, in: c,
                        debugDescription: "only text content parts (with their text) are supported")
                }
                content = parts.compactMap(\.text).joined()
            } else {
                // a number, an object…: refused, not read as an empty message
                throw Swift.DecodingError.dataCorruptedError(forKey: .content, in: c,
                    debugDescription: "content must be a string or a list of text parts")
            }
        }
    }

    /// A prompt is a string or a list holding one string (token arrays are not taken).
    struct Prompt: Decodable {
        var text: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) {
                self.text = text
                return
            }
            let list = try c.decode([String].self)
            guard list.count == 1 else {
                throw Swift.DecodingError.dataCorruptedError(in: c, debugDescription: "prompt must be one string (got \(list.count))")
            }
            text = list[0]
        }
    }

    struct Stop: Decodable {
        var strings: [String]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { strings = [] } else if let one = try? c.decode(String.self) { strings = [one] } else {
                strings = try c.decode([String].self)
            }
        }
    }

    /// `logprobs` is a bool on chat (with `top_logprobs` for the number of
    /// alternatives) and the number of alternatives on completions.
    enum Logprobs: Decodable {
        case flag(Bool)
        case count(Int)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .flag(false) } else if let flag = try? c.decode(Bool.self) { self = .flag(flag) } else {
                self = .count(try c.decode(Int.self))
            }
        }
    }
}

extension CompletionBody {
    var wantsStream: Bool { stream ?? false }
    var wantsStreamUsage: Bool { streamOptions?.includeUsage ?? false }

    /// The moed request, or the OpenAI-shaped reason it cannot be made.
    func generateRequest(chat: Bool) throws(OpenAIError) -> GenerateRequest {
        guard let model, !model.isEmpty else { throw .invalid("you must provide a model parameter", param: "model") }
        if let n, n != 1 { throw .invalid("n = \(n): moed returns one choice per request", param: "n") }
        var request = GenerateRequest()
        request.logprobs = try logprobAlternatives(chat: chat)
        request.jsonSchema = schema
        request.tier = model
        if chat {
            guard let messages, !messages.isEmpty else { throw .invalid("messages must be a non-empty list", param: "messages") }
            request.messages = messages.map { ChatMessage(role: $0.role, content: $0.content) }
        } else {
            guard let prompt else { throw .invalid("you must provide a prompt parameter", param: "prompt") }
            request.prompt = prompt.text
        }
        if let limit = maxCompletionTokens ?? maxTokens {
            if let problem = GenerationLimits.problem(with: limit, in: GenerationLimits.maxTokens) {
                throw .invalid("max_tokens: \(problem)", param: "max_tokens")
            }
            request.maxTokens = UInt32(limit)
        }
        if let temperature { request.sampling.temperature = Float(temperature) }
        if let topP { request.sampling.topP = Float(topP) }
        if let topK {
            if let problem = GenerationLimits.problem(with: topK, in: GenerationLimits.topK) {
                throw .invalid("top_k: \(problem)", param: "top_k")
            }
            request.sampling.topK = UInt32(topK)
        }
        if let seed { request.sampling.seed = UInt64(bitPattern: seed) }
        request.stop = stop?.strings.filter { !$0.isEmpty } ?? []
        return request
    }

    /// moed's `logprobs`: nil for none, else the number of alternatives per
    /// token (chat: `logprobs: true` and `top_logprobs`; completions: `logprobs: N`).
    private func logprobAlternatives(chat: Bool) throws(OpenAIError) -> UInt32? {
        let count: Int?
        switch logprobs {
        case .flag(true)? where chat: count = topLogprobs ?? 0
        case .flag(false)?, nil:
            if topLogprobs != nil, chat { throw .invalid("top_logprobs needs logprobs: true", param: "top_logprobs") }
            count = nil
        case .count(let n)? where !chat: count = n
        default:
            throw .invalid(chat ? "logprobs must be true or false on chat completions"
                                : "logprobs must be the number of alternatives on completions", param: "logprobs")
        }
        guard let count else { return nil }
        let field = chat ? "top_logprobs" : "logprobs"
        if let problem = GenerationLimits.problem(with: count, in: GenerationLimits.topLogprobs) {
            throw .invalid("\(field): \(problem)", param: field)
        }
        return UInt32(count)
    }
}

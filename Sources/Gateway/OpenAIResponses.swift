import MoeAPI

/// OpenAI's answer bodies, built from moed's chunks and summary.
struct Usage: Encodable {
    var promptTokens: UInt32
    var completionTokens: UInt32
    var totalTokens: UInt32
    /// OpenAI's `prompt_tokens_details.cached_tokens`: prompt tokens moed
    /// took from a cached prefix instead of evaluating them again.
    var promptTokensDetails: PromptTokensDetails

    init(_ summary: GenerateSummary) {
        promptTokens = summary.promptTokens
        completionTokens = summary.completionTokens
        totalTokens = summary.promptTokens + summary.completionTokens
        promptTokensDetails = PromptTokensDetails(cachedTokens: summary.cachedPromptTokens)
    }

    struct PromptTokensDetails: Encodable {
        var cachedTokens: UInt32
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
}

/// moed's finish reasons in OpenAI's two words: a stop string or the
/// model's end token are `stop`; the token limit or a full context are `length`.
func openAIFinishReason(_ moed: String) -> String {
    switch moed {
    case "length", "context_full": "length"
    default: "stop"
    }
}

struct ChatMessageBody: Encodable {
    var role: String?
    var content: String?
}

struct Choice: Encodable {
    var index = 0
    var message: ChatMessageBody?   // chat, whole answer
    var delta: ChatMessageBody?     // chat, streamed
    var text: String?               // completions
    var finishReason: String?
    var logprobs: ChoiceLogprobs?    // only when the request asked for them

    enum CodingKeys: String, CodingKey {
        case index, message, delta, text, logprobs, finishReason = "finish_reason"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encodeIfPresent(message, forKey: .message)
        try c.encodeIfPresent(delta, forKey: .delta)
        try c.encodeIfPresent(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs)  // null unless asked for
        try c.encode(finishReason, forKey: .finishReason)  // null while streaming
    }
}

struct CompletionObject: Encodable {
    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encode(usage, forKey: .usage)  // null on streamed chunks, as OpenAI sends it
    }
}

struct ModelObject: Encodable {
    var id: String
    var object = "model"
    var created = 0
    var ownedBy = "moed"
    var state: String
    var plugin: String
    var contextLength: UInt32
    var isDefault: Bool

    init(_ tier: TierStatus) {
        id = tier.name
        state = tier.state.name
        plugin = tier.plugin
        contextLength = tier.context
        isDefault = tier.isDefault
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, state, plugin, ownedBy = "owned_by", contextLength = "context_length", isDefault = "default"
    }
}

struct ModelList: Encodable {
    var object = "list"
    var data: [ModelObject]
}

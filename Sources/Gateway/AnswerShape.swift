import Foundation
import Hummingbird
import MoeAPI

/// How one request's answer looks: chat or text completion, its id, model
/// and creation time, the same on every streamed event.
struct AnswerShape: Sendable {
    let chat: Bool
    let model: String
    let includeUsage: Bool
    /// Whether the request asked for log-probabilities.
    let logprobs: Bool
    let id: String
    let created: Int

    init(chat: Bool, model: String, includeUsage: Bool, logprobs: Bool) {
        self.chat = chat
        self.model = model
        self.includeUsage = includeUsage
        self.logprobs = logprobs
        id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        created = Int(Date().timeIntervalSince1970)
    }

    private func object(_ choices: [Choice], usage: Usage? = nil, streamed: Bool) -> CompletionObject {
        let kind = chat ? (streamed ? "chat.completion.chunk" : "chat.completion") : "text_completion"
        return CompletionObject(id: id, object: kind, created: created, model: model, choices: choices, usage: usage)
    }

    func whole(text: String, summary: GenerateSummary, logprobs entries: [GenerateChunk.TokenLogprob]) -> CompletionObject {
        let reason = openAIFinishReason(summary.finishReason)
        var offsets = TextOffsets()
        var choice = chat
            ? Choice(message: ChatMessageBody(role: "assistant", content: text), finishReason: reason)
            : Choice(text: text, finishReason: reason)
        choice.logprobs = choiceLogprobs(entries, offsets: &offsets)
        return object([choice], usage: Usage(summary), streamed: false)
    }

    /// The choice's `logprobs` for these tokens in this request's shape, or
    /// nil when it did not ask for them.
    func choiceLogprobs(_ entries: [GenerateChunk.TokenLogprob], offsets: inout TextOffsets) -> ChoiceLogprobs? {
        guard logprobs else { return nil }
        return chat ? .chat(ChatLogprobs(entries)) : .completion(CompletionLogprobs(entries, offsets: &offsets))
    }

    /// The first event: chat streams announce the assistant role.
    func opening() -> CompletionObject {
        let choice = chat ? Choice(delta: ChatMessageBody(role: "assistant", content: "")) : Choice(text: "")
        return object([choice], streamed: true)
    }

    /// One streamed piece: its text and, if asked for, its tokens' log-probabilities.
    func delta(_ chunk: GenerateChunk, offsets: inout TextOffsets) -> CompletionObject {
        var choice = chat ? Choice(delta: ChatMessageBody(content: chunk.text)) : Choice(text: chunk.text)
        choice.logprobs = choiceLogprobs(chunk.logprobs, offsets: &offsets)
        return object([choice], streamed: true)
    }

    func finish(_ summary: GenerateSummary) -> CompletionObject {
        let reason = openAIFinishReason(summary.finishReason)
        let choice = chat ? Choice(delta: ChatMessageBody(), finishReason: reason) : Choice(text: "", finishReason: reason)
        return object([choice], streamed: true)
    }

    /// `stream_options.include_usage`: a last chunk with no choices and the usage.
    func usage(_ summary: GenerateSummary) -> CompletionObject {
        object([], usage: Usage(summary), streamed: true)
    }

    func event(_ value: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(encodeJSON(value))
        buffer.writeString("\n\n")
        return buffer
    }
}

func encodeJSON(_ value: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return (try? encoder.encode(value)) ?? Data(#"{"error":{"message":"cannot encode the answer","type":"server_error","param":null,"code":null}}"#.utf8)
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: encodeJSON(value))))
}

extension OpenAIError {
    func response() -> Response { jsonResponse(self, status: status) }
}

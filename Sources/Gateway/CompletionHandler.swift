import Foundation
import Hummingbird
import Logging
import Grammar
import MoeAPI
import MoeClient

/// `POST /v1/chat/completions` and `POST /v1/completions`: one moed
/// `generate` per request, answered whole or as server-sent events.
struct CompletionHandler: Sendable {
    let socketPath: String
    let counters: GatewayCounters
    let logger: Logger
    static let maxBodyBytes = 8 << 20

    func handle(_ request: Request, chat: Bool) async throws -> Response {
        let body: CompletionBody
        let generate: GenerateRequest
        var request = request
        do {
            let bytes = try await request.collectBody(upTo: Self.maxBodyBytes)
            body = try Self.decode(bytes)
            generate = try body.generateRequest(chat: chat)
        } catch let error as OpenAIError {
            return error.response()
        } catch {
            return OpenAIError.invalid("request body above \(Self.maxBodyBytes) bytes or unreadable: \(error)").response()
        }
        let shape = AnswerShape(chat: chat, model: generate.tier, includeUsage: body.wantsStreamUsage,
                                logprobs: generate.logprobs != nil)
        let call = MoeClient.start(socketPath: socketPath, call: .generate(generate))
        if body.wantsStream { return await streamed(call, shape: shape) }
        return await whole(call.responses, shape: shape, request: request)
    }

    static func decode(_ bytes: ByteBuffer) throws(OpenAIError) -> CompletionBody {
        do {
            var body = try JSONDecoder().decode(CompletionBody.self, from: Data(buffer: bytes))
            body.schema = try ResponseFormat.schema(in: JSONValue.parse(Array(buffer: bytes)))
            return body
        } catch let error as OpenAIError {
            throw error
        } catch let error as Swift.DecodingError {
            throw .invalid("malformed request body: \(describe(error))")
        } catch {
            throw .invalid("malformed request body: \(error)")
        }
    }

    /// Waits for the summary; a client that hangs up first cancels the task,
    /// which ends the stream and so hangs up on moed. Watching for the hang-up
    /// consumes the connection (Hummingbird closes it after this answer), so
    /// the answer says `Connection: close` and pooled clients do not reuse it.
    private func whole(_ stream: AsyncThrowingStream<MoeAPI.Response, Error>, shape: AnswerShape,
                       request: Request) async -> Response {
        do {
            let (text, logprobs, summary) = try await request.body.consumeWithCancellationOnInboundClose { _ in
                var text = ""
                var logprobs: [GenerateChunk.TokenLogprob] = []
                for try await response in stream {
                    switch response.result {
                    case .chunk(let chunk):
                        text += chunk.text
                        logprobs += chunk.logprobs
                    case .summary(let summary): return (text, logprobs, summary)
                    default: continue
                    }
                }
                throw ClientError.connectionLost("moed ended the generate call without a summary")
            }
            if let tooLong = OpenAIError.promptTooLong(summary, chat: shape.chat) { throw tooLong }
            finished(shape, summary)
            return Self.closing(jsonResponse(shape.whole(text: text, summary: summary, logprobs: logprobs)))
        } catch {
            let answer = OpenAIError.from(error, model: shape.model)
            failed(shape, answer)
            return Self.closing(answer.response())
        }
    }

    /// Sends the headers once moed has accepted the request (so an unknown
    /// model or a refused field is still a plain HTTP error), then one
    /// event per chunk, the finish, optional usage and `data: [DONE]`.
    private func streamed(_ call: AsyncCall, shape: AnswerShape) async -> Response {
        var iterator = call.responses.makeAsyncIterator()
        let first: MoeAPI.Response?
        do {
            first = try await Self.firstGenerated(&iterator)
            // a prompt that does not fit ends before any token: a plain HTTP error
            if case .summary(let summary)? = first?.result, let tooLong = OpenAIError.promptTooLong(summary, chat: shape.chat) {
                throw tooLong
            }
        } catch {
            let answer = OpenAIError.from(error, model: shape.model)
            failed(shape, answer)
            return answer.response()
        }
        let pending = UnsafeSendableBox((first, iterator))
        let body = ResponseBody { writer in
            var (first, iterator) = pending.value
            var next = first
            var offsets = TextOffsets()
            do {
                try await writer.write(shape.event(shape.opening()))
                while let response = next {
                    switch response.result {
                    // A chunk whose text is held back (a character split
                    // across tokens) still carries its tokens' logprobs.
                    case .chunk(let chunk) where !chunk.text.isEmpty || (shape.logprobs && !chunk.logprobs.isEmpty):
                        try await writer.write(shape.event(shape.delta(chunk, offsets: &offsets)))
                    case .summary(let summary):
                        try await writer.write(shape.event(shape.finish(summary)))
                        if shape.includeUsage { try await writer.write(shape.event(shape.usage(summary))) }
                        finished(shape, summary)  // before [DONE], so a scrape right after sees it
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                        return
                    default: break
                    }
                    next = try await iterator.next()
                }
                throw ClientError.connectionLost("moed ended the generate call without a summary")
            } catch let error as ClientError {
                // moed failed mid-stream: tell the client in OpenAI's shape, then end.
                let answer = OpenAIError.from(error, model: shape.model)
                failed(shape, answer)
                try await writer.write(shape.event(answer))
                try await writer.finish(nil)
            } catch {
                // A write failed: the client is gone, so moed's work for it stops.
                call.hangUp()
                failed(shape, OpenAIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                                          message: "client went away: \(error)", type: "client_closed"))
                throw error
            }
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: body)
    }

    static func closing(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }

    /// Counts and logs (debug) a completion answered in full.
    func finished(_ shape: AnswerShape, _ summary: GenerateSummary) {
        counters.countCompletion()
        logger.debug("completion", metadata: [
            "tier": "\(shape.model)", "request": "\(shape.id)", "finish": "\(summary.finishReason)",
            "prompt_tokens": "\(summary.promptTokens)", "tokens": "\(summary.completionTokens)",
        ])
    }

    /// Counts and logs a completion that ended in an error (a warning when moed or moegate failed).
    func failed(_ shape: AnswerShape, _ error: OpenAIError) {
        counters.countFailure()
        let metadata: Logger.Metadata = ["tier": "\(shape.model)", "request": "\(shape.id)", "status": "\(error.status.code)"]
        let level: Logger.Level = error.status.code >= 500 ? .warning : .info
        logger.log(level: level, "completion failed: \(error.message)", metadata: metadata)
    }

    /// Reads past load progress to the first chunk (or the summary), so
    /// errors moed finds at the start come back before any header.
    static func firstGenerated(_ iterator: inout AsyncThrowingStream<MoeAPI.Response, Error>.Iterator) async throws
        -> MoeAPI.Response? {
        while let response = try await iterator.next() {
            switch response.result {
            case .chunk, .summary: return response
            default: continue
            }
        }
        return nil
    }
}

/// Carries a value that is handed from one task to another exactly once.
struct UnsafeSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

func describe(_ error: Swift.DecodingError) -> String {
    switch error {
    case .dataCorrupted(let context): return context.debugDescription + path(context)
    case .keyNotFound(let key, let context): return "missing field \(key.stringValue)" + path(context)
    case .typeMismatch(let type, let context): return "expected \(type)" + path(context)
    case .valueNotFound(let type, let context): return "expected \(type), found null" + path(context)
    @unknown default: return "\(error)"
    }
}

private func path(_ context: Swift.DecodingError.Context) -> String {
    context.codingPath.isEmpty ? "" : " at " + context.codingPath.map(\.stringValue).joined(separator: ".")
}

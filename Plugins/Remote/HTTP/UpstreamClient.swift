/// How an upstream generation ended.
public struct UpstreamResult: Equatable, Sendable {
    public var finishReason: String
    /// From the upstream's `usage`, when it sent one.
    public var usage: (prompt: Int, completion: Int)?
    /// Pieces of text received (the count when there is no usage).
    public var pieces: Int

    public static func == (a: Self, b: Self) -> Bool {
        a.finishReason == b.finishReason && a.pieces == b.pieces && a.usage?.prompt == b.usage?.prompt
            && a.usage?.completion == b.usage?.completion
    }
}

/// One OpenAI-compatible upstream: a streamed chat or completions call per
/// generation, on its own connection (`Connection: close`), read with
/// bounded parsers. Messages name the upstream; the API key never appears.
public struct UpstreamClient: Sendable {
    public let url: UpstreamURL
    public let model: String
    let apiKey: String?
    public let timeout: Double
    /// Bounds on what a hostile upstream can make moed hold or read.
    static let maxErrorBody = 64 << 10
    static let maxStreamBytes = 256 << 20

    public init(url: UpstreamURL, model: String, apiKey: String?, timeout: Double) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }

    /// Streams one generation: `onText` gets each piece and returns true
    /// to stop (then this throws `.cancelled`); `isCancelled` is polled
    /// while the upstream is silent.
    public func generate(_ request: UpstreamRequest, isCancelled: @escaping () -> Bool,
                         onText: (String) -> Bool) throws -> UpstreamResult {
        let target = url.target(request.endpoint)
        let where_ = "\(url.description)/\(request.endpoint)"
        do {
            let connection = try HTTPConnection(host: url.host, port: url.port, timeout: timeout, isCancelled: isCancelled)
            try connection.send(Array(head(target: target, body: request.body(model: model)).utf8))
            var reader = StreamReader(maxPieces: request.maxTokens + 64)
            return try reader.read(from: connection, onText: onText)
        } catch var error as UpstreamError {
            if !error.message.contains(url.description) { error.message = "upstream \(where_): \(error.message)" }
            throw error
        }
    }

    private func head(target: String, body: String) -> String {
        var lines = [
            "POST \(target) HTTP/1.1", "Host: \(url.hostHeader)", "User-Agent: moed-remote/1",
            "Content-Type: application/json", "Accept: text/event-stream",
            "Content-Length: \(body.utf8.count)", "Connection: close",
        ]
        if let apiKey { lines.append("Authorization: Bearer \(apiKey)") }
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }
}

/// The reading side of one call: HTTP, then SSE, then OpenAI's chunks.
struct StreamReader {
    let maxPieces: Int
    private var http = HTTPResponseParser()
    private var sse = SSEParser()
    private var head: HTTPResponseHead?
    private var errorBody: [UInt8] = []
    private var finish: String?
    private var usage: (prompt: Int, completion: Int)?
    private var pieces = 0
    private var received = 0

    init(maxPieces: Int) { self.maxPieces = maxPieces }

    mutating func read(from connection: HTTPConnection, onText: (String) -> Bool) throws -> UpstreamResult {
        while true {
            let bytes = try connection.receive()
            received += bytes.count
            guard received <= UpstreamClient.maxStreamBytes else {
                throw UpstreamError(.malformed, "sent more than \(UpstreamClient.maxStreamBytes >> 20) MiB")
            }
            let events = bytes.isEmpty ? try http.finish() : try http.feed(bytes)
            for event in events {
                if let result = try handle(event, onText: onText) { return result }
            }
            if bytes.isEmpty {
                // Closed after a finish reason but without [DONE]: complete enough.
                if let finish, !sse.isInsideEvent { return UpstreamResult(finishReason: finish, usage: usage, pieces: pieces) }
                throw UpstreamError(.unavailable, "closed the stream before it finished (after \(pieces) pieces of text)")
            }
        }
    }

    /// The result once the stream is complete, else nil.
    private mutating func handle(_ event: HTTPResponseParser.Event, onText: (String) -> Bool) throws -> UpstreamResult? {
        switch event {
        case .head(let h):
            head = h
            if h.status == 200 {
                let type = h.header("content-type")?.lowercased() ?? ""
                guard type.hasPrefix("text/event-stream") else {
                    throw UpstreamError(.malformed, "answered with content-type '\(type)', not an event stream")
                }
            }
        case .body(let bytes):
            guard let head else { return nil }
            if head.status != 200 {
                errorBody += bytes.prefix(max(0, UpstreamClient.maxErrorBody - errorBody.count))
                if errorBody.count >= UpstreamClient.maxErrorBody { throw httpError(head) }
                return nil
            }
            for payload in try sse.feed(bytes) {
                for item in try OpenAIStream.events(payload) {
                    if let result = try apply(item, onText: onText) { return result }
                }
            }
        case .end:
            guard let head else { return nil }
            if head.status != 200 { throw httpError(head) }
            if let finish { return UpstreamResult(finishReason: finish, usage: usage, pieces: pieces) }
            throw UpstreamError(.unavailable, "ended the stream before it finished (after \(pieces) pieces of text)")
        }
        return nil
    }

    private mutating func apply(_ item: StreamEvent, onText: (String) -> Bool) throws -> UpstreamResult? {
        switch item {
        case .text(let text):
            guard !text.isEmpty else { return nil }
            pieces += 1
            guard pieces <= maxPieces else { throw UpstreamError(.malformed, "sent more than \(maxPieces) pieces of text for max_tokens") }
            if onText(text) { throw UpstreamError(.cancelled, "cancelled by the client") }
        case .finish(let reason): finish = reason
        case .usage(let prompt, let completion): usage = (prompt, completion)
        case .done:
            return UpstreamResult(finishReason: finish ?? "stop", usage: usage, pieces: pieces)
        }
        return nil
    }

    private func httpError(_ head: HTTPResponseHead) -> UpstreamError {
        let detail = errorBody.isEmpty ? "" : ": " + OpenAIStream.errorMessage(errorBody)
        return UpstreamError(UpstreamError.kind(httpStatus: head.status),
                             "answered HTTP \(head.status) \(OpenAIStream.excerpt(head.reason))\(detail)")
    }
}

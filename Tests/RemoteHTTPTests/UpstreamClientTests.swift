import Foundation
import Testing
@testable import MoeRemoteHTTP

/// A one-connection HTTP server on loopback that answers with canned
/// bytes: the unit under test is the client, so a fake upstream is fine.
final class CannedUpstream: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var receivedBytes: [UInt8] = []

    /// `answer` is written once the request has arrived; then the
    /// connection closes, unless `hold` keeps it open and silent.
    init(answer: String, hold: Bool = false) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = listener
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok, listen(fd, 1) == 0 else { throw UpstreamError(.unavailable, "cannot listen") }
        port = UInt16(bigEndian: address.sin_port)
        let reply = Array(answer.utf8)
        var received: [UInt8] = []
        let worker = Thread { [weak self] in
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !Self.complete(received) {
                let count = recv(connection, &buffer, buffer.count, 0)
                if count <= 0 { break }
                received += buffer[..<count]
            }
            self?.record(received)
            _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if hold { sleep(5) }
            close(connection)
        }
        worker.start()
    }

    deinit { close(listener) }

    private func record(_ bytes: [UInt8]) {
        lock.lock()
        receivedBytes = bytes
        lock.unlock()
    }

    var request: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: receivedBytes, as: UTF8.self)
    }

    /// The head has arrived and as many body bytes as it announced.
    static func complete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return true }
        return text[end.upperBound...].utf8.count >= length
    }

    func client(timeout: Double = 10, key: String? = nil) throws -> UpstreamClient {
        UpstreamClient(url: try UpstreamURL("http://127.0.0.1:\(port)/v1"), model: "m", apiKey: key, timeout: timeout)
    }
}

private func run(_ upstream: CannedUpstream, timeout: Double = 10, key: String? = nil,
                 cancelAfter: Int? = nil) throws -> (texts: [String], result: UpstreamResult) {
    var texts: [String] = []
    var request = UpstreamRequest()
    request.prompt = "abc"
    let result = try upstream.client(timeout: timeout, key: key).generate(request, isCancelled: { false }) { text in
        texts.append(text)
        return cancelAfter.map { texts.count >= $0 } ?? false
    }
    return (texts, result)
}

private func sse(_ events: [String], chunked: Bool = false) -> String {
    let body = events.map { "data: \($0)\n\n" }.joined()
    if chunked {
        let pieces = body.utf8.count > 10 ? [String(body.prefix(10)), String(body.dropFirst(10))] : [body]
        return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + pieces.map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }.joined() + "0\r\n\r\n"
    }
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + body
}

@Suite("The upstream client over a real socket, against canned answers", .serialized)
struct UpstreamClientTests {
    @Test("a streamed completion: pieces, finish reason and usage; the request carries the key and the body")
    func streamed() throws {
        for chunked in [false, true] {
            let upstream = try CannedUpstream(answer: sse([
                #"{"choices":[{"text":"He"}]}"#, #"{"choices":[{"text":"llo"}]}"#,
                #"{"choices":[{"text":"","finish_reason":"length"}]}"#,
                #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#, "[DONE]",
            ], chunked: chunked))
            let (texts, result) = try run(upstream, key: "sk-test")
            #expect(texts == ["He", "llo"])
            #expect(result.finishReason == "length" && result.pieces == 2)
            #expect(result.usage?.prompt == 3 && result.usage?.completion == 2)
            #expect(upstream.request.hasPrefix("POST /v1/completions HTTP/1.1\r\n"))
            #expect(upstream.request.contains("Authorization: Bearer sk-test\r\n"))
            #expect(upstream.request.contains(#""prompt":"abc""#))
        }
    }

    @Test("HTTP errors map to kinds with the upstream's message", arguments: [
        (404, UpstreamError.Kind.notFound), (401, .permission), (400, .refused), (500, .unavailable), (429, .rateLimited),
    ])
    func httpErrors(_ status: Int, _ kind: UpstreamError.Kind) throws {
        let body = #"{"error":{"message":"no such thing here"}}"#
        let upstream = try CannedUpstream(answer: "HTTP/1.1 \(status) Whatever\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        do {
            _ = try run(upstream)
            Issue.record("no error for HTTP \(status)")
        } catch let error as UpstreamError {
            #expect(error.kind == kind)
            #expect(error.message.contains("no such thing here") && error.message.contains("HTTP \(status)"), "\(error.message)")
            #expect(error.message.contains("http://127.0.0.1:\(upstream.port)/v1"), "names the upstream: \(error.message)")
        }
    }

    /// Named cases (the names keep test output short): the canned answer and the kind it must give.
    static let failureCases: [String: (answer: String, kind: UpstreamError.Kind)] = [
        "cut short": (sse([#"{"choices":[{"text":"a"}]}"#]), .unavailable),
        "broken event": (sse(["{broken"]), .malformed),
        "json, not a stream": ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", .malformed),
        "endless line": ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: " + String(repeating: "x", count: 2 << 20), .malformed),
        "closed at once": ("", .unavailable),
        "not http": ("NOT HTTP AT ALL\r\n\r\n", .malformed),
    ]

    @Test("a stream cut short, malformed events, a wrong content type and junk are clear errors",
          arguments: ["cut short", "broken event", "json, not a stream", "endless line", "closed at once", "not http"])
    func failures(_ name: String) throws {
        let failure = try #require(Self.failureCases[name])
        let upstream = try CannedUpstream(answer: failure.answer)
        #expect { _ = try run(upstream) } throws: { ($0 as? UpstreamError)?.kind == failure.kind }
    }

    @Test("an upstream that goes silent is a timeout, a cancelled call stops, a closed port is refused")
    func silenceCancelRefusal() throws {
        let silent = try CannedUpstream(answer: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", hold: true)
        #expect { _ = try run(silent, timeout: 0.3) } throws: { ($0 as? UpstreamError)?.kind == .timeout }
        let chatty = try CannedUpstream(answer: sse([#"{"choices":[{"text":"a"}]}"#, #"{"choices":[{"text":"b"}]}"#]), hold: true)
        #expect { _ = try run(chatty, cancelAfter: 1) } throws: { ($0 as? UpstreamError)?.kind == .cancelled }
        let held = try CannedUpstream(answer: "", hold: true)
        var request = UpstreamRequest()
        request.prompt = "x"
        #expect {
            _ = try held.client().generate(request, isCancelled: { true }) { _ in false }
        } throws: { ($0 as? UpstreamError)?.kind == .cancelled }
        let nobody = UpstreamClient(url: try UpstreamURL("http://127.0.0.1:1/v1"), model: "m", apiKey: nil, timeout: 5)
        #expect { _ = try nobody.generate(request, isCancelled: { false }) { _ in false } } throws: {
            guard let error = $0 as? UpstreamError else { return false }
            return error.kind == .unavailable && error.message.contains("connection refused")
        }
    }
}

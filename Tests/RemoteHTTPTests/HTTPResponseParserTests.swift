import Testing
@testable import MoeRemoteHTTP

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds `input` in pieces of `step` bytes; returns the body and whether it ended.
private func parse(_ input: String, step: Int = 1, limits: HTTPResponseParser.Limits = .init()) throws -> (head: HTTPResponseHead?, body: String, ended: Bool) {
    var parser = HTTPResponseParser(limits: limits)
    var head: HTTPResponseHead?, body: [UInt8] = [], ended = false
    let all = bytes(input)
    var i = 0
    while i < all.count {
        for event in try parser.feed(Array(all[i..<min(i + step, all.count)])) {
            switch event {
            case .head(let h): head = h
            case .body(let b): body += b
            case .end: ended = true
            }
        }
        i += step
    }
    return (head, String(decoding: body, as: UTF8.self), ended)
}

@Suite("HTTP/1.1 response parser: hostile bytes end in errors, never traps")
struct HTTPResponseParserTests {
    @Test("content-length, chunked and close-delimited bodies, fed a byte at a time and at once")
    func bodies() throws {
        for step in [1, 7, 10_000] {
            let fixed = try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step: step)
            #expect(fixed.head?.status == 200)
            #expect(fixed.body == "hello" && fixed.ended)
            let chunked = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", step: step)
            #expect(chunked.body == "hello world" && chunked.ended)
            let open = try parse("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n", step: step)
            #expect(open.body == "data: 1\n\n" && !open.ended)
            #expect(open.head?.header("content-type") == "text/event-stream")
        }
    }

    @Test("the connection closing mid-body or before the head is UNAVAILABLE")
    func earlyClose() throws {
        var parser = HTTPResponseParser()
        _ = try parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"))
        #expect(throws: UpstreamError.self) { try parser.finish() }
        var silent = HTTPResponseParser()
        #expect((try? silent.finish()) == nil)
        var untilClose = HTTPResponseParser()
        _ = try untilClose.feed(bytes("HTTP/1.1 200 OK\r\n\r\nabc"))
        #expect(try untilClose.finish() == [.end])
    }

    @Test("malformed status lines, headers, sizes and codings are refused by name", arguments: [
        "garbage\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "SMTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: no name\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
    ])
    func malformed(_ input: String) {
        #expect(throws: UpstreamError.self) { _ = try parse(input) }
    }

    @Test("an endless head, too many headers and an endless chunk line hit their bounds")
    func bounds() {
        var limits = HTTPResponseParser.Limits()
        limits.headBytes = 1024
        limits.headers = 10
        limits.lineBytes = 64
        #expect(throws: UpstreamError.self) { _ = try parse("HTTP/1.1 200 OK\r\n" + String(repeating: "X-A: b\r\n", count: 500), step: 100, limits: limits) }
        #expect(throws: UpstreamError.self) { _ = try parse("HTTP/1.1 200 OK\r\n" + String(repeating: "X: 1\r\n", count: 20) + "\r\n", limits: limits) }
        #expect(throws: UpstreamError.self) {
            _ = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "0", count: 200), limits: limits)
        }
    }

    @Test("random bytes never trap the parser")
    func randomBytes() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var parser = HTTPResponseParser()
            let prefix = round % 2 == 0 ? bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") : []
            let alphabet: [UInt8] = [13, 10, 48, 49, 97, 59, 58, 32]
            let noise: [UInt8] = (0..<Int.random(in: 0..<400, using: &generator)).map { _ in
                alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
            }
            _ = try? parser.feed(prefix + noise)
            _ = try? parser.finish()
        }
    }
}

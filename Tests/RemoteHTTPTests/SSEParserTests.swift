import Testing
@testable import MoeRemoteHTTP

@Suite("Server-sent events and OpenAI's chunks from hostile bytes")
struct SSEParserTests {
    @Test("LF, CRLF and CR line ends, split anywhere; comments and other fields skipped; data lines joined")
    func events() throws {
        let stream = ": keep-alive\r\nevent: x\r\ndata: {\"a\":1}\r\n\r\ndata:two\rdata: lines\r\rid: 5\n\ndata: [DONE]\n\n"
        for step in [1, 3, 1000] {
            var parser = SSEParser()
            var events: [String] = []
            let all = Array(stream.utf8)
            for start in stride(from: 0, to: all.count, by: step) {
                events += try parser.feed(Array(all[start..<min(start + step, all.count)]))
            }
            #expect(events == ["{\"a\":1}", "two\nlines", "[DONE]"])
            #expect(!parser.isInsideEvent)
        }
    }

    @Test("an endless line and an endless event hit their bounds")
    func bounds() {
        var lines = SSEParser(maxLineBytes: 100, maxEventBytes: 1000)
        #expect(throws: UpstreamError.self) { _ = try lines.feed(Array(repeating: UInt8(ascii: "a"), count: 200)) }
        var event = SSEParser(maxLineBytes: 100, maxEventBytes: 1000)
        let line = Array("data: \(String(repeating: "b", count: 80))\n".utf8)
        #expect(throws: UpstreamError.self) { for _ in 0..<20 { _ = try event.feed(line) } }
    }

    @Test("OpenAI chunks: chat delta, completion text, finish reason, usage, [DONE]")
    func chunks() throws {
        #expect(try OpenAIStream.events(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#) == [.text("Hi")])
        #expect(try OpenAIStream.events(#"{"choices":[{"text":" there","finish_reason":"length"}]}"#) == [.text(" there"), .finish("length")])
        #expect(try OpenAIStream.events(#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#)
                == [.usage(prompt: 12, completion: 3)])
        #expect(try OpenAIStream.events(" [DONE] ") == [.done])
        #expect(try OpenAIStream.events(#"{"choices":[{"delta":{}}],"usage":null}"#) == [])
    }

    @Test("malformed chunks are refused naming what was wrong; error events carry the upstream's message", arguments: [
        "{not json", "[1,2]", "\"text\"", #"{"choices":[{"delta":{"content":"a"}}]"#, "deep",
    ])
    func malformed(_ payload: String) {
        let text = payload == "deep" ? String(repeating: "[", count: 10_000) : payload
        #expect(throws: UpstreamError.self) { _ = try OpenAIStream.events(text) }
    }

    @Test("error events and bodies give the upstream's own message")
    func errors() throws {
        do {
            _ = try OpenAIStream.events(#"{"error":{"message":"moed went away","type":"server_error"}}"#)
            Issue.record("an error event was taken as a chunk")
        } catch let error as UpstreamError {
            #expect(error.kind == .unavailable)
            #expect(error.message.contains("moed went away"))
        }
        #expect(OpenAIStream.errorMessage(Array(#"{"error":{"message":"The model `x` does not exist"}}"#.utf8)) == "The model `x` does not exist")
        #expect(OpenAIStream.errorMessage(Array(#"{"detail":[{"msg":"field required"},{"msg":"bad"}]}"#.utf8)) == "field required; bad")
        #expect(OpenAIStream.errorMessage(Array("plain\u{1}text".utf8)) == "plain text")
        #expect(OpenAIStream.errorMessage(Array(String(repeating: "x", count: 5000).utf8)).count == 301)
    }

    @Test("request bodies are valid JSON with every string escaped")
    func body() throws {
        var request = UpstreamRequest()
        request.messages = [(role: "user", content: "quote \" back \\ newline \n nul-free \u{1}")]
        request.stops = ["\n\n", "</s>"]
        request.sampling.repetitionPenalty = 1.1
        request.sampling.seed = UInt64.max
        let json = request.body(model: "m\"x")
        #expect(json.contains(#""seed":4294967295"#))
        #expect(json.contains(#""repeat_penalty":1.1"#))
        #expect(json.contains(#""stream":true"#))
        #expect(request.endpoint == "chat/completions")
        var completion = UpstreamRequest()
        completion.prompt = "abc"
        #expect(completion.endpoint == "completions")
        #expect(!completion.body(model: "m").contains("repeat_penalty"))
    }
}

@Suite("Upstream URLs")
struct UpstreamURLTests {
    @Test("host, port and base path are read; the target joins the endpoint")
    func parts() throws {
        let url = try UpstreamURL("http://127.0.0.1:8000/v1/")
        #expect(url.host == "127.0.0.1" && url.port == 8000 && url.basePath == "/v1")
        #expect(url.target("chat/completions") == "/v1/chat/completions")
        #expect(url.description == "http://127.0.0.1:8000/v1")
        let v6 = try UpstreamURL("http://[::1]:9/")
        #expect(v6.host == "::1" && v6.port == 9 && v6.basePath == "" && v6.hostHeader == "[::1]:9")
        #expect(try UpstreamURL("http://gpu-box/v1").port == 80)
    }

    @Test("https, user info, queries, bad ports and junk are refused by name", arguments: [
        "https://h/v1", "ftp://h", "http://", "http://:80/v1", "http://h:0/", "http://h:70000/", "http://h:x/",
        "http://u:p@h/", "http://h/v1?x=1", "http://h/v 1", "http://[::1/", "http://h/\u{e9}",
    ])
    func refused(_ text: String) {
        #expect(throws: UpstreamError.self) { _ = try UpstreamURL(text) }
    }
}

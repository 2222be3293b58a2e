import Foundation
import MoeAPI
import MoeClient
import Testing

/// A moed whose tier `opus` is remote: it points at a second, real moed
/// (toy plugin) fronted by our own moegate, an OpenAI-compatible engine.
/// Every piece is a real process on real sockets; nothing is installed.
final class RemoteSetup {
    let upstream = Scratch()
    let front = Scratch()
    let upstreamDaemon: DaemonProcess
    let gateway: GatewayProcess
    let daemon: DaemonProcess

    /// `tiers` is appended to the front's config; `gatewayArguments` go to moegate.
    init(toyKnobs: String = "step_ms=2", tiers: String = "", gatewayArguments: [String] = [],
         remoteModel: String = "haiku") throws {
        upstream.writeConfig(toyKnobs: toyKnobs)
        upstreamDaemon = try DaemonProcess(upstream)
        gateway = try GatewayProcess(socket: upstream.socket, arguments: gatewayArguments)
        let model = front.write("toy.txt", "#toy step_ms=2\nHello from the toy model. ")
        front.write("moed.toml", """
            [daemon]
            socket = "\(front.socket)"
            socket_mode = "0600"
            memory_budget = "1GiB"
            default_tier = "local"

            [tiers.local]
            plugin = "toy"
            model = "\(model)"
            temperature = 0

            [tiers.opus]
            plugin = "remote"
            url = "\(gateway.baseURL)"
            remote_model = "\(remoteModel)"
            temperature = 0
            timeout = "20s"
            \(tiers)
            """)
        daemon = try DaemonProcess(front)
    }

    /// A generate call's chunks and its final response (summary or error).
    func stream(_ request: GenerateRequest, on process: DaemonProcess? = nil) throws -> (chunks: [String], final: Response) {
        try streamOn(process ?? daemon, request)
    }

    func stop() -> [Int32] { [daemon.stop(), gateway.stop(), upstreamDaemon.stop()] }
}

func remoteRequest(_ prompt: String, tier: String = "opus", maxTokens: UInt32 = 8, stop: [String] = []) -> GenerateRequest {
    var request = GenerateRequest()
    request.tier = tier
    request.prompt = prompt
    request.maxTokens = maxTokens
    request.stop = stop
    return request
}

@Suite("remote tiers: moed over an OpenAI-compatible upstream (moegate in front of a second moed)", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: Build.path("moegate")),
                "skipped: moegate is not built here (MOED_NO_GATEWAY, as in the sanitizer builds)"))
struct RemoteTierTests {
    @Test("a remote tier streams the upstream's text, with its finish reason, usage, stop strings and stats")
    func streams() throws {
        let setup = try RemoteSetup()
        let (chunks, final) = try setup.stream(remoteRequest("abc"))
        let summary = try #require(final.summary, "\(final.error?.message ?? "no summary")")
        #expect(chunks.joined() == toyContinuation(promptBytes: 3, count: 8))
        #expect(chunks.count >= 2, "streamed in pieces, not at once: \(chunks)")
        #expect(summary.finishReason == "length")
        #expect(summary.completionTokens == 8)
        // The prompt's count is the upstream's own usage figure.
        let direct = try generate(setup.upstreamDaemon.client(), prompt: "abc", tier: "haiku", maxTokens: 8)
        #expect(summary.promptTokens == direct.summary.promptTokens)
        #expect(summary.tier == "opus")

        let stopped = try setup.stream(remoteRequest("abc", maxTokens: 40, stop: ["toy"]))
        #expect(stopped.chunks.joined() == "o from the ")
        #expect(stopped.final.summary?.finishReason == "stop")

        var chat = remoteRequest("", maxTokens: 5)
        chat.messages = [ChatMessage(role: "user", content: "hello")]
        let chatted = try setup.stream(chat)
        #expect(chatted.final.summary?.completionTokens == 5, "\(chatted.final.error?.message ?? "")")
        #expect(chatted.chunks.joined().count == 5)

        let stats = try #require(try statsOf(setup.daemon).first { $0.name == "opus" })
        #expect(stats.requests == 3)
        #expect(stats.failedRequests == 0)
        // The upstream's usage counts the tokens it held back for the stop string too.
        let counted = [final, stopped.final, chatted.final].compactMap { $0.summary?.completionTokens }.reduce(0, +)
        #expect(stats.completionTokens == UInt64(counted))
        #expect(stats.promptTokens > 0)
        #expect(stats.firstToken.counts.reduce(0, +) == 3)
        #expect(stats.tokenLatency.counts.reduce(0, +) > 0)
        let status = try #require(try statusOf(setup.daemon).tiers.first { $0.name == "opus" })
        #expect(status.remoteURL == setup.gateway.baseURL)
        #expect(status.model == "haiku")
        #expect(status.plugin == "remote")
        #expect(status.memoryBytes == 0)
        // moegate in front of this moed shows the remote tier's counters in /metrics.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") {
            let front = try GatewayProcess(socket: setup.front.socket)
            let metrics = try curl(["-s", "http://127.0.0.1:\(front.port)/metrics"])
            #expect(metrics.out.contains("moed_tier_generated_tokens_total{tier=\"opus\"} \(counted)"), "\(metrics.out.prefix(2000))")
            #expect(metrics.out.contains("moed_tier_requests_total{tier=\"opus\"} 3"))
            #expect(front.stop() == 0)
        }
        #expect(setup.stop() == [0, 0, 0])
    }

    @Test("an unknown remote model, an upstream not listening, and tokenize are refused clearly")
    func refusals() throws {
        let port = try unusedPort()
        let setup = try RemoteSetup(tiers: """
            [tiers.ghost]
            plugin = "remote"
            url = "http://127.0.0.1:\(port)/v1"

            [tiers.nobody]
            plugin = "remote"
            url = "http://127.0.0.1:\(port)/v1"
            """, remoteModel: "no-such-model")
        let unknown = try #require(try setup.stream(remoteRequest("abc")).final.error)
        #expect(unknown.code == .notFound)
        #expect(unknown.message.contains("tier opus"))
        #expect(unknown.message.contains(setup.gateway.baseURL), "names the upstream: \(unknown.message)")
        #expect(unknown.message.contains("no-such-model"), "\(unknown.message)")

        let down = try #require(try setup.stream(remoteRequest("abc", tier: "nobody")).final.error)
        #expect(down.code == .unavailable)
        #expect(down.message.contains("connection refused"), "\(down.message)")
        #expect(down.message.contains("127.0.0.1:\(port)"), "\(down.message)")

        var tokenize = TokenizeRequest()
        tokenize.tier = "opus"
        tokenize.text = "abc"
        let tokenizer = try setup.daemon.client()
        let tokenizeID = try tokenizer.send(.tokenize(tokenize))
        var answer = try tokenizer.receive()
        while answer.id != tokenizeID || !answer.isFinal { answer = try tokenizer.receive() }
        let refused = try #require(answer.error)
        #expect(refused.code == .unimplemented)
        #expect(refused.message.contains("remote"))

        var schema = remoteRequest("abc")
        schema.jsonSchema = #"{"type": "object"}"#
        let structured = try #require(try setup.stream(schema).final.error)
        #expect(structured.code == .invalidArgument)
        #expect(structured.message.contains("json_schema"))
        #expect(try generate(setup.daemon.client(), prompt: "ok", tier: "local").text == toyContinuation(promptBytes: 2, count: 8))
        #expect(setup.stop() == [0, 0, 0])
    }

    @Test("the upstream dying mid-stream ends the request with a clear error, and moed keeps serving")
    func upstreamDies() throws {
        let setup = try RemoteSetup(toyKnobs: "step_ms=40")
        let client = try setup.daemon.client()
        let id = try client.send(.generate(remoteRequest("abc", maxTokens: 10_000)))
        var chunks = 0
        var final: Response?
        while final == nil {
            let response = try client.receive()
            guard response.id == id else { continue }
            if case .chunk = response.result {
                chunks += 1
                if chunks == 2 { kill(setup.gateway.process.processIdentifier, SIGKILL) }
            }
            if response.isFinal { final = response }
        }
        let error = try #require(final?.error, "the stream ended without an error")
        #expect(error.code == .unavailable)
        #expect(error.message.contains(setup.gateway.baseURL), "\(error.message)")
        #expect(error.message.contains("closed"), "\(error.message)")
        setup.gateway.process.waitUntilExit()  // its listening socket is gone only once it has exited
        // The daemon is alive: the local tier serves, the remote one reports the upstream gone.
        #expect(try generate(setup.daemon.client(), prompt: "ok", tier: "local").text == toyContinuation(promptBytes: 2, count: 8))
        let again = try #require(try setup.stream(remoteRequest("abc")).final.error)
        #expect(again.code == .unavailable)
        #expect(again.message.contains("connection refused"), "\(again.message)")
        let stats = try #require(try statsOf(setup.daemon).first { $0.name == "opus" })
        #expect(stats.failedRequests == 2)
        #expect(setup.daemon.stop() == 0)
        setup.upstreamDaemon.stop()
    }

    @Test("a client's cancel stops the remote stream and the upstream's generation")
    func cancel() throws {
        let setup = try RemoteSetup(toyKnobs: "step_ms=40")
        let client = try setup.daemon.client()
        let id = try client.send(.generate(remoteRequest("abc", maxTokens: 10_000)))
        var chunks = 0
        while chunks < 2 {
            let response = try client.receive()
            if case .chunk = response.result { chunks += 1 }
        }
        let cancelID = try client.send(.cancel(targetID: id))
        var finals: [UInt64: Response] = [:]
        while finals.count < 2 {
            let response = try client.receive()
            if response.isFinal { finals[response.id] = response }
        }
        #expect(finals[id]?.error?.code == .cancelled)
        #expect(finals[cancelID]?.error == nil)
        // The plugin closes its connection; moegate hangs up on the upstream moed, whose stream ends.
        var upstreamActive: UInt32 = 1
        for _ in 0..<100 where upstreamActive > 0 {
            upstreamActive = try statusOf(setup.upstreamDaemon).tiers.first { $0.name == "haiku" }?.activeRequests ?? 1
            if upstreamActive > 0 { usleep(100_000) }
        }
        #expect(upstreamActive == 0)
        #expect(try statusOf(setup.daemon).tiers.first { $0.name == "opus" }?.activeRequests == 0)
        #expect(try setup.stream(remoteRequest("abc")).final.summary?.completionTokens == 8)
        #expect(setup.stop() == [0, 0, 0])
    }

    @Test("the API key from api_key_file reaches the upstream, never the status; a wrong key is PERMISSION_DENIED")
    func apiKeys() throws {
        let keys = Scratch()
        let gatewayKeys = keys.write("gateway-keys", "sk-right-0123456789\n")
        let right = keys.write("right.key", "sk-right-0123456789\n")
        let wrong = keys.write("wrong.key", "sk-wrong-9876543210\n")
        let setup = try RemoteSetup(tiers: """
            api_key_file = "\(right)"

            [tiers.wrong]
            plugin = "remote"
            url = "http://127.0.0.1:1/v1"
            """, gatewayArguments: ["--api-keys", gatewayKeys])
        // The wrong-key tier must point at the gateway too: rewrite and reload.
        let config = try String(contentsOfFile: setup.front.config, encoding: .utf8)
            .replacingOccurrences(of: "url = \"http://127.0.0.1:1/v1\"",
                                  with: "url = \"\(setup.gateway.baseURL)\"\nremote_model = \"haiku\"\napi_key_file = \"\(wrong)\"")
        setup.front.write("moed.toml", config)
        setup.daemon.signal(SIGHUP)
        #expect(try setup.stream(remoteRequest("abc")).final.summary?.completionTokens == 8)
        var refused: RemoteError?
        for _ in 0..<50 {  // until the reload has pointed the tier at the gateway with its key file
            refused = try setup.stream(remoteRequest("abc", tier: "wrong")).final.error
            if refused?.code == .permissionDenied { break }
            usleep(100_000)
        }
        #expect(refused?.code == .permissionDenied, "\(refused?.message ?? "no error")")
        #expect(refused?.message.contains("401") == true, "\(refused?.message ?? "")")
        let status = try moectl(["status", "--json"], socket: setup.front.socket)
        #expect(status.code == 0)
        #expect(status.out.contains(setup.gateway.baseURL))
        #expect(!status.out.contains("sk-right") && !status.out.contains("sk-wrong"))
        #expect(setup.stop() == [0, 0, 0])
    }
}

/// A loopback port nothing listens on (bound, then released).
func unusedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw E2EError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func statsOf(_ daemon: DaemonProcess) throws -> [TierStats] {
    guard case .stats(let stats) = try daemon.client().call(.stats).result else { throw E2EError("no stats") }
    return stats
}

extension Response {
    /// The summary of a finished generate call, if it is one.
    var summary: GenerateSummary? {
        if case .summary(let summary) = result { return summary }
        return nil
    }
}

import Testing
import MoeAPI

@Suite("Protobuf conversion")
struct CodecTests {
    static let requests: [Request] = {
        var generate = GenerateRequest()
        generate.tier = "haiku"
        generate.prompt = "Once upon a time"
        generate.messages = [ChatMessage(role: "user", content: "héllo ✓")]
        generate.sampling.temperature = 0.5
        generate.sampling.seed = 42
        generate.stop = ["\n\n", "END"]
        generate.maxTokens = 17
        var tokenize = TokenizeRequest()
        tokenize.text = "abc"
        tokenize.addSpecial = false
        tokenize.parseSpecial = true
        return [
            Request(id: 1, call: .status), Request(id: 2, call: .tiers), Request(id: 3, call: .plugins),
            Request(id: 4, call: .load(tier: "opus")), Request(id: 5, call: .unload(tier: "sonnet")),
            Request(id: 6, call: .use(tier: "haiku")), Request(id: 7, call: .generate(generate)),
            Request(id: 8, call: .tokenize(tokenize)), Request(id: 9, call: .stats),
            Request(id: 10, call: .reload), Request(id: .max, call: .cancel(targetID: 7)),
        ]
    }()

    @Test("every request survives encoding and decoding", arguments: requests)
    func requestRoundTrip(request: Request) throws {
        #expect(try Request(serialized: request.serialized()) == request)
    }

    static let responses: [Response] = {
        var tier = TierStatus()
        tier.name = "haiku"
        tier.state = .draining
        tier.memoryBytes = 1 << 40
        tier.lastError = "boom"
        tier.memory.weightBytes = 1 << 33
        tier.memory.kvCacheBytes = 7
        tier.memory.scratchBytes = 8
        tier.memory.kvReservedBytes = 9
        tier.memory.prefixCacheBytes = 10
        tier.memory.kvType = "q8_0"
        var status = StatusReply()
        status.pid = 42
        status.memoryHeld = 11
        status.memoryReserved = 12
        status.tiers = [tier, TierStatus()]
        var stats = TierStats()
        stats.name = "opus"
        stats.expertCounts = [1, 2, 3, 4]
        stats.routingEntropy = [0.5, 1.25]
        stats.kvCachePeakBytes = 13
        stats.memoryRefusals = 2
        stats.evictions = 3
        var summary = GenerateSummary()
        summary.finishReason = "length"
        summary.completionTokens = 9
        summary.promptTokenIDs = [1, 2, 300]
        var plugin = PluginInfo()
        plugin.name = "dense"
        plugin.isLoaded = true
        var reload = ReloadReply()
        reload.tiers = ["a", "b"]
        return [
            Response(id: 1, isFinal: true, result: .status(status)),
            Response(id: 2, isFinal: true, result: .tiers(TiersReply(defaultTier: "haiku", tiers: [tier]))),
            Response(id: 3, isFinal: true, result: .plugins([plugin])),
            Response(id: 4, isFinal: false, result: .loadProgress(tier: "opus", fraction: 0.25)),
            Response(id: 5, isFinal: true, result: .tier(tier)),
            Response(id: 6, isFinal: false, result: .chunk(GenerateChunk(text: "hé", tokens: [1, -2]))),
            Response(id: 7, isFinal: true, result: .summary(summary)),
            Response(id: 8, isFinal: true, result: .tokenize(TokenizeReply(tokens: [5], pieces: [[0xff, 0]]))),
            Response(id: 9, isFinal: true, result: .stats([stats])),
            Response(id: 10, isFinal: true, result: .reload(reload)),
            Response.failure(id: 11, RemoteError(.resourceExhausted, "queue full")),
            Response(id: 12, isFinal: true),
        ]
    }()

    @Test("every response survives encoding and decoding", arguments: responses)
    func responseRoundTrip(response: Response) throws {
        #expect(try Response(serialized: response.serialized()) == response)
    }

    @Test("garbage bytes are a decoding error, not a crash", arguments: [
        [0xff, 0xff, 0xff], [0x0a, 0x05, 0x01], [0x08], Array("hello world".utf8), [0x52, 0x7f],
    ] as [[UInt8]])
    func garbage(bytes: [UInt8]) {
        #expect(throws: DecodingError.self) { _ = try Request(serialized: bytes) }
    }

    @Test("an empty message decodes but names no call")
    func noCall() {
        #expect(throws: DecodingError.self) { _ = try Request(serialized: []) }
    }

    @Test("a truncated valid request is refused")
    func truncatedRequest() throws {
        let bytes = Self.requests[6].serialized()
        for cut in stride(from: 1, to: bytes.count, by: 3) {
            #expect(throws: DecodingError.self) { _ = try Request(serialized: Array(bytes.prefix(cut))) }
        }
    }
}

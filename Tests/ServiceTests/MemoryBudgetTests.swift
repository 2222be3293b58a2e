import MoeAPI
import PluginHost
import Testing
@testable import Service

/// A fake model that reports memory like a plugin with the memory_* entries:
/// fixed weights and scratch, and KV that grows with the positions held.
final class AccountedModel: ModelBackend {
    let inner = FakeModel(text: "abcdefghij")
    let weights: UInt64, scratch: UInt64
    var kvBytes: UInt64 = 0

    init(weights: UInt64, scratch: UInt64) {
        self.weights = weights
        self.scratch = scratch
    }

    var info: ModelInfo { inner.info }
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        try inner.tokenize(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }
    func detokenize(_ tokens: [Int32]) throws -> [UInt8] { try inner.detokenize(tokens) }
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        try inner.renderChat(turns, addGenerationPrompt: addGenerationPrompt)
    }
    func createSequence() throws -> Int32 { try inner.createSequence() }
    func removeSequence(_ sequence: Int32) throws { try inner.removeSequence(sequence) }
    func clearSequence(_ sequence: Int32) throws { try inner.clearSequence(sequence) }
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] {
        kvBytes += UInt64(items.count) * 10  // 10 bytes a position
        return try inner.evaluate(items)
    }
    func expertStatistics() throws -> [UInt64] { [] }
    func routingEntropy() throws -> [Double] { [] }
    func close() { inner.close() }
    func memoryUsage() throws -> MemoryUsage? { MemoryUsage(weightBytes: weights, cacheBytes: kvBytes, scratchBytes: scratch) }
    func sequenceBytes(positions: Int) throws -> UInt64? { UInt64(positions) * 10 }
}

/// Tiers whose models hold `weights` + 50 scratch and reserve 640 bytes a
/// sequence (a context of 64 positions at 10 bytes each).
final class AccountedBackends: BackendProvider {
    var weights: [String: UInt64] = [:]
    var models: [String: AccountedModel] = [:]

    func estimate(_ tier: TierSettings, maxSequences: Int) throws -> UInt64 {
        try memoryEstimate(tier, maxSequences: maxSequences).totalBytes
    }
    func memoryEstimate(_ tier: TierSettings, maxSequences: Int) throws -> MemoryEstimate {
        MemoryEstimate(weightBytes: weights[tier.model] ?? 100, cacheBytes: 640, scratchBytes: 50)
    }
    func open(_ tier: TierSettings, maxSequences: Int, progress: @escaping (Float) -> Void) throws -> ModelBackend {
        let model = AccountedModel(weights: weights[tier.model] ?? 100, scratch: 50)
        models[tier.name] = model
        return model
    }
    func pluginReport(for tiers: [TierSettings]) -> [PluginInfo] { [] }
}

@Suite("Memory budget: reservations, growth and what goes first")
struct MemoryBudgetTests {
    let clock = FakeClock()
    let executor = ManualExecutor()
    let backends = AccountedBackends()

    func scheduler(budget: Int, pinned: String = "") throws -> Scheduler {
        let toml = """
            [daemon]
            memory_budget = \(budget)
            max_batch = 4
            [tiers.a]
            plugin = "fake"
            model = "a"
            temperature = 0
            \(pinned == "a" ? "pinned = true" : "")
            [tiers.b]
            plugin = "fake"
            model = "b"
            temperature = 0
            [tiers.c]
            plugin = "fake"
            model = "c"
            temperature = 0
            """
        let clock = self.clock
        let environment = SchedulerEnvironment(now: { clock.now }, backends: backends, executor: executor,
                                               physicalMemory: { 1 << 30 })
        return Scheduler(configuration: try Configuration.parse(toml, path: "test.toml"), environment: environment)
    }

    func load(_ s: Scheduler, _ tier: String, sink: CollectingSink, id: UInt64) {
        s.load(tier: tier, id: id, sink: sink)
        executor.settle()
        clock.now += 1
    }

    func generate(_ s: Scheduler, _ tier: String, id: UInt64, sink: CollectingSink) {
        var request = GenerateRequest()
        request.tier = tier
        request.prompt = "abc"
        request.maxTokens = 3
        s.generate(request, id: id, sink: sink)
    }

    func status(_ s: Scheduler, _ tier: String) throws -> TierStatus {
        try #require(s.tierStatuses().first { $0.name == tier })
    }

    @Test("an open tier counts weights + scratch + KV held, and a running sequence reserves KV up to its context")
    func accountFollowsTheModel() throws {
        let s = try scheduler(budget: 100_000)
        let sink = CollectingSink()
        load(s, "a", sink: sink, id: 1)
        #expect(try status(s, "a").memoryBytes == 150)  // idle: weights 100 + scratch 50, no KV
        generate(s, "a", id: 2, sink: sink)
        s.pump(try #require(s.tiers["a"]))
        #expect(try status(s, "a").memoryBytes == 150 + 640)  // reserved while it runs
        #expect(try status(s, "a").memory.kvReservedBytes == 640)
        executor.settle()
        #expect(try #require(sink.final(of: 2)).error == nil)
        let idle = try status(s, "a")
        #expect(idle.memory.kvReservedBytes == 0)
        #expect(idle.memory.kvCacheBytes == (try #require(backends.models["a"])).kvBytes)
        #expect(idle.memoryBytes == 150 + idle.memory.kvCacheBytes)
        #expect(idle.memory.weightBytes == 100 && idle.memory.scratchBytes == 50)
        let stats = try #require(s.stats().first { $0.name == "a" })
        #expect(stats.kvCachePeakBytes == idle.memory.kvCacheBytes && stats.kvCachePeakBytes > 0)
    }

    @Test("a sequence that does not fit evicts idle tiers, least recently used first, and keeps the rest")
    func sequenceEvictsIdleTiers() throws {
        let s = try scheduler(budget: 1_600)
        let sink = CollectingSink()
        load(s, "b", sink: sink, id: 1)  // 150, used first
        load(s, "c", sink: sink, id: 2)  // 150
        load(s, "a", sink: sink, id: 3)  // 150
        // a's request needs 640 more: 450 + 640 = 1090 fits; a second one
        // (1730) must evict b (used longest ago), and then fits at 1580.
        generate(s, "a", id: 4, sink: sink)
        generate(s, "a", id: 5, sink: sink)
        executor.settle()
        #expect(try #require(sink.final(of: 4)).error == nil)
        #expect(try #require(sink.final(of: 5)).error == nil)
        #expect(try status(s, "b").state == .unloaded)
        #expect(try status(s, "c").state == .ready)
        #expect(s.stats().map(\.evictions) == [0, 1, 0])
    }

    // Cached prefixes going before idle tiers: PrefixReuseTests, with the
    // real prefix cache on a model that can edit sequences.

    @Test("with nothing left to free, a request is refused RESOURCE_EXHAUSTED with the figures; a busy tier's next one waits")
    func refusalAndWaiting() throws {
        let s = try scheduler(budget: 1_000, pinned: "a")
        let sink = CollectingSink()
        load(s, "a", sink: sink, id: 1)  // pinned: never evicted
        load(s, "b", sink: sink, id: 2)
        // a's cache grows past 300 bytes (read after its next job): a holds over 450.
        try #require(backends.models["a"]).kvBytes = 300
        generate(s, "a", id: 9, sink: sink)
        executor.settle()
        #expect(try #require(sink.final(of: 9)).error == nil)
        generate(s, "b", id: 3, sink: sink)  // over 450 + 150 + 640 > 1000
        executor.settle()
        let error = try #require(sink.final(of: 3)?.error)
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("640 B") && error.message.contains("1000 B") && error.message.contains("(a "),
                "\(error.message)")
        #expect(try status(s, "a").state == .ready)
        #expect(try status(s, "b").state == .ready)
        #expect(s.stats().map(\.memoryRefusals) == [0, 1, 0])

        // With one running, a second that does not fit waits for it instead.
        let roomy = try scheduler(budget: 1_100)
        load(roomy, "b", sink: sink, id: 10)  // 150
        generate(roomy, "b", id: 11, sink: sink)  // 790
        generate(roomy, "b", id: 12, sink: sink)  // would be 1430: waits
        executor.settle()
        #expect(try #require(sink.final(of: 11)).error == nil)
        #expect(try #require(sink.final(of: 12)).error == nil)
        #expect(roomy.stats().map(\.memoryRefusals) == [0, 0, 0])  // waiting is not a refusal
    }
}

import GenerationCore
import MoeAPI
import Testing
@testable import Service

/// How a request's generation settings come about in the daemon (tier
/// keys over GenerationCore's defaults, request fields over both), and
/// the context and logprob rules as the scheduler applies them.
@Suite("Generation settings and context rules in the scheduler")
struct GenerationOptionsTests {
    @Test("a tier without sampling keys has GenerationCore's defaults, the same as moectl run's")
    func tierDefaults() throws {
        let configuration = try Configuration.parse("""
            [tiers.t]
            plugin = "fake"
            model = "m"
            """, path: "t.toml")
        #expect(configuration.tiers[0].generation == GenerationOptions())
        #expect(!configuration.tiers[0].isSeedRandom)
    }

    @Test("request fields override tier keys; seed = \"random\" varies unseeded requests only")
    func overrides() throws {
        let configuration = try Configuration.parse("""
            [tiers.t]
            plugin = "fake"
            model = "m"
            temperature = 0.3
            max_tokens = 9
            seed = "random"
            context_shift = true
            """, path: "t.toml")
        let tier = configuration.tiers[0]
        #expect(tier.isSeedRandom && tier.generation.contextShift && tier.generation.maxTokens == 9)
        var request = GenerateRequest()
        request.sampling.topK = 7
        request.logprobs = 4
        let a = Generation.options(request, tier: tier)
        #expect(a.sampling.temperature == 0.3 && a.sampling.topK == 7 && a.maxTokens == 9 && a.logprobs == 4 && a.contextShift)
        let seeds = Set((0..<4).map { _ in Generation.options(request, tier: tier).sampling.seed })
        #expect(seeds.count > 1)
        request.sampling.seed = 5
        request.contextShift = false
        request.maxTokens = 3
        let b = Generation.options(request, tier: tier)
        #expect(b.sampling.seed == 5 && !b.contextShift && b.maxTokens == 3)
        #expect(throws: ConfigError.self) {
            try Configuration.parse("[tiers.t]\nplugin = \"fake\"\nmodel = \"m\"\nseed = \"often\"\n", path: "t.toml")
        }
    }

    func run(contextShift: Bool?, maxTokens: UInt32) throws -> (GenerateSummary, FakeModel) {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        var request = GenerateRequest()
        request.tier = "haiku"
        request.prompt = "abc"
        request.maxTokens = maxTokens
        request.contextShift = contextShift
        request.logprobs = 1
        h.scheduler.generate(request, id: 1, sink: sink)
        h.executor.settle(limit: 100_000)
        guard case .summary(let summary) = sink.final(of: 1)?.result else { throw StepError("no summary: \(sink.responses)") }
        let chunks = sink.responses.compactMap { r -> GenerateChunk? in if case .chunk(let c) = r.result { c } else { nil } }
        let tokens = chunks.flatMap(\.tokens), logprobs = chunks.flatMap(\.logprobs)
        #expect(logprobs.map(\.token) == tokens && logprobs.allSatisfy { $0.top.count == 1 && $0.logprob <= 0 })
        return (summary, try #require(h.backends.models["haiku"]))
    }

    @Test("a full context (64 positions here) ends with context_full by default")
    func contextFull() throws {
        let (summary, model) = try run(contextShift: nil, maxTokens: 200)
        #expect(summary.finishReason == "context_full" && summary.contextShifts == 0)
        #expect(summary.promptTokens + summary.completionTokens == 65)  // the last token was sampled, never evaluated
        #expect(model.clearedSequences.isEmpty)
    }

    @Test("with context_shift the sequence is cleared, the kept half re-evaluated, and generation goes on")
    func contextShift() throws {
        let (summary, model) = try run(contextShift: true, maxTokens: 200)
        #expect(summary.finishReason == "length" && summary.completionTokens == 200)
        #expect(summary.contextShifts >= 3 && model.clearedSequences.count == Int(summary.contextShifts))
        // After a shift, positions restart at 0 and the BOS is kept first.
        let refills = model.evaluateCalls.filter { $0.count > 1 && $0.first?.position == 0 }.dropFirst()
        #expect(refills.count == Int(summary.contextShifts) && refills.allSatisfy { $0.first?.token == 256 && $0.count < 64 })
    }
}

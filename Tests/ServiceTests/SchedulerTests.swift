import Foundation
import Testing
import MoeAPI
@testable import Service

@Suite("Scheduler")
struct SchedulerTests {
    @Test("concurrent first requests for an unloaded tier cause one load")
    func oneLoad() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        for id in 1...3 { h.generate("x", id: UInt64(id), sink: sink) }
        #expect(h.state("haiku") == .loading)
        h.executor.settle()
        #expect(h.backends.opened == ["haiku"])
        #expect(h.scheduler.tierStatuses().isEmpty == false)
        for id in 1...3 { #expect(try #require(sink.final(of: UInt64(id))).error == nil) }
    }

    @Test("a generation streams the model's text and ends with a summary")
    func streams() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("ab", id: 7, sink: sink, maxTokens: 4)
        h.executor.settle()
        // Prompt is BOS a b at positions 0...2, so the fake recites from text[3].
        #expect(sink.text(of: 7) == "defg")
        guard case .summary(let summary) = sink.final(of: 7)?.result else { Issue.record("no summary"); return }
        #expect(summary.finishReason == "length")
        #expect(summary.completionTokens == 4)
        #expect(summary.promptTokenIDs == [256, 97, 98])
    }

    @Test("an end-of-generation token finishes with reason stop, as moectl run says")
    func eos() throws {
        let h = try Harness(Harness.twoTiers)
        h.backends.eosAfter = 5
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: 50)
        h.executor.settle()
        guard case .summary(let summary) = sink.final(of: 1)?.result else { Issue.record("no summary"); return }
        #expect(summary.finishReason == "stop")
        #expect(sink.text(of: 1) == "de")
    }

    @Test("active sequences of a tier share one evaluation per step")
    func batching() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("a", id: 1, sink: sink, maxTokens: 3)
        h.generate("b", id: 2, sink: sink, maxTokens: 3)
        h.executor.settle()
        let calls = try #require(h.backends.models["haiku"]?.evaluateCalls)
        #expect(calls.count == 3)  // prefill both, then two decode steps of both
        #expect(calls.allSatisfy { Set($0.map(\.sequence)).count == 2 })
        #expect(try #require(sink.final(of: 1)).error == nil)
        #expect(try #require(sink.final(of: 2)).error == nil)
    }

    @Test("a full queue answers RESOURCE_EXHAUSTED")
    func boundedQueue() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        for id in 1...5 { h.generate("x", id: UInt64(id), sink: sink) }
        #expect(sink.final(of: 5)?.error?.code == .resourceExhausted)
        h.executor.settle()
        for id in 1...4 { #expect(try #require(sink.final(of: UInt64(id))).error == nil) }
    }

    @Test("an unknown tier is NOT_FOUND and names the known ones")
    func unknownTier() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("x", tier: "sonnet", id: 1, sink: sink)
        let error = try #require(sink.final(of: 1)?.error)
        #expect(error.code == .notFound)
        #expect(error.message.contains("haiku, opus"))
    }

    @Test("a load that cannot fit evicts idle unpinned tiers first")
    func eviction() throws {
        let h = try Harness(Harness.twoTiers)
        h.backends.sizes = ["h": 600, "o": 600]
        let sink = CollectingSink()
        h.scheduler.load(tier: "haiku", id: 1, sink: sink)
        h.executor.settle()
        h.scheduler.load(tier: "opus", id: 2, sink: sink)
        h.executor.settle()
        #expect(h.state("haiku") == .unloaded)
        #expect(h.state("opus") == .ready)
        #expect(h.backends.models["haiku"]?.isClosed == true)
        #expect(h.scheduler.memoryUsed == 600)
    }

    @Test("a load that cannot fit next to a pinned tier is refused with the figures")
    func budgetRefusal() throws {
        let h = try Harness(Harness.twoTiers.replacingOccurrences(of: "keep_alive = \"10s\"", with: "pinned = true"))
        h.backends.sizes = ["h": 600, "o": 600]
        let sink = CollectingSink()
        h.scheduler.load(tier: "haiku", id: 1, sink: sink)
        h.executor.settle()
        h.scheduler.load(tier: "opus", id: 2, sink: sink)
        h.executor.settle()
        let error = try #require(sink.final(of: 2)?.error)
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("600 B") && error.message.contains("1000 B"))
        #expect(h.state("opus") == .failed)
        #expect(h.state("haiku") == .ready)
    }

    @Test("use switches the default only after a successful load")
    func use() throws {
        let h = try Harness(Harness.twoTiers)
        h.backends.failingPaths = ["o"]
        let sink = CollectingSink()
        h.scheduler.use(tier: "opus", id: 1, sink: sink)
        h.executor.settle()
        #expect(sink.final(of: 1)?.error != nil)
        #expect(h.scheduler.defaultTier == "haiku")
        h.backends.failingPaths = []
        h.scheduler.use(tier: "opus", id: 2, sink: sink)
        h.executor.settle()
        #expect(try #require(sink.final(of: 2)).error == nil)
        #expect(h.scheduler.defaultTier == "opus")
    }

    @Test("load streams progress before its final status")
    func loadProgress() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.scheduler.load(tier: "opus", id: 3, sink: sink)
        h.executor.settle()
        let fractions = sink.responses.compactMap { r -> Float? in
            if case .loadProgress(_, let f) = r.result { return f }
            return nil
        }
        #expect(fractions == [0.5, 1])
        guard case .tier(let status) = sink.final(of: 3)?.result else { Issue.record("no final status"); return }
        #expect(status.state == .ready)
    }

    @Test("idle tiers unload after their keep-alive, pinned and busy ones do not")
    func keepAlive() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("x", id: 1, sink: sink)
        h.executor.settle()
        #expect(h.scheduler.nextKeepAliveDeadline() == 10)
        h.clock.now += 9
        h.scheduler.expireIdleTiers()
        h.executor.settle()
        #expect(h.state("haiku") == .ready)
        h.clock.now += 1
        h.scheduler.expireIdleTiers()
        h.executor.settle()
        #expect(h.state("haiku") == .unloaded)
        #expect(h.scheduler.nextKeepAliveDeadline() == nil)
    }

    @Test("cancel ends the stream with CANCELLED and frees the sequence")
    func cancel() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("x", id: 1, sink: sink, maxTokens: 50)
        while sink.text(of: 1).count < 2 { h.executor.settle(limit: 1) }
        h.scheduler.cancel(target: 1, id: 2, sink: sink)
        h.executor.settle()
        #expect(sink.final(of: 1)?.error?.code == .cancelled)
        #expect(try #require(sink.final(of: 2)).error == nil)
        #expect(sink.responses.filter { $0.id == 1 && $0.isFinal }.count == 1)
        #expect(h.backends.models["haiku"]?.removedSequences == [0])
        #expect(h.scheduler.tierStatuses().first?.activeRequests == 0)
    }

    @Test("a client that goes away loses its generations at the next step")
    func disconnect() throws {
        let h = try Harness(Harness.twoTiers)
        let gone = CollectingSink(connectionID: 1)
        let staying = CollectingSink(connectionID: 2)
        h.generate("x", id: 1, sink: gone, maxTokens: 50)
        h.generate("y", id: 1, sink: staying, maxTokens: 5)
        h.executor.settle(limit: 6)
        h.scheduler.disconnect(gone)
        h.executor.settle()
        #expect(gone.final(of: 1) == nil)
        #expect(try #require(staying.final(of: 1)).error == nil)
        #expect(h.backends.models["haiku"]?.removedSequences.contains(0) == true)
    }

    @Test("unload waits for running streams, then closes the model")
    func unloadDrains() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("x", id: 1, sink: sink, maxTokens: 5)
        h.executor.settle(limit: 6)
        h.scheduler.unload(tier: "haiku", id: 2, sink: sink)
        #expect(h.state("haiku") == .draining)
        h.executor.settle()
        #expect(try #require(sink.final(of: 1)).error == nil)
        guard case .tier(let status) = sink.final(of: 2)?.result else { Issue.record("no unload answer: \(sink.responses)"); return }
        #expect(status.state == .unloaded)
        #expect(h.backends.models["haiku"]?.isClosed == true)
    }

    @Test("a reload drops removed tiers and reloads changed ones on next use")
    func reload() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.scheduler.load(tier: "haiku", id: 1, sink: sink)
        h.executor.settle()
        let changed = try Configuration.parse("""
            [tiers.haiku]
            plugin = "fake"
            model = "h2"
            """, path: "test.toml")
        h.scheduler.apply(changed)
        h.executor.settle()
        #expect(h.scheduler.tierStatuses().map(\.name) == ["haiku"])
        #expect(h.backends.models["haiku"]?.isClosed == true)
        h.generate("x", id: 2, sink: sink)
        h.executor.settle()
        #expect(h.backends.opened == ["haiku", "haiku"])
        #expect(try #require(sink.final(of: 2)).error == nil)
    }
}

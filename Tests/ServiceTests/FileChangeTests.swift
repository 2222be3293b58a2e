import Testing
import MoeAPI
@testable import Service

/// The scheduler's side of a model file changed on disk, over fakes: the
/// lane reports the problem after a step, and the tier fails as a state.
@Suite("Scheduler: a tier's model file changed on disk")
struct FileChangeTests {
    let changed = RemoteError(.failedPrecondition, "model file changed on disk: haiku")

    /// Loads both tiers; haiku's file "changes" during evaluation number `call`.
    func loadBoth(changingHaikuAt call: Int) throws -> (Harness, FakeModel) {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.scheduler.load(tier: "haiku", id: 100, sink: sink)
        h.scheduler.load(tier: "opus", id: 101, sink: sink)
        h.executor.settle()
        let model = try #require(h.backends.models["haiku"])
        model.onEvaluate = { [unowned model] n in if n == call { model.fileProblem = "size 10 → 0 bytes" } }
        return (h, model)
    }

    @Test("streams end with the error, the step computed on the changed file is dropped, the other tier streams on")
    func streamsFail() throws {
        let (h, model) = try loadBoth(changingHaikuAt: 2)
        let sink = CollectingSink()
        h.generate("x", tier: "haiku", id: 1, sink: sink, maxTokens: 20)
        h.generate("x", tier: "opus", id: 2, sink: sink, maxTokens: 20)
        h.executor.settle()
        #expect(try #require(sink.final(of: 1)).error == changed)
        // BOS x: the fake recites from text[2]; the third step's token never left the lane.
        #expect(sink.text(of: 1) == "cd")
        let opus = try #require(sink.final(of: 2))
        #expect(opus.error == nil && sink.text(of: 2).count == 20)
        #expect(h.state("haiku") == .failed)
        #expect(model.isClosed)
        let status = try #require(h.scheduler.tierStatuses().first { $0.name == "haiku" })
        #expect(status.lastError == "model file changed on disk: haiku (size 10 → 0 bytes)")
        #expect(status.memoryBytes == 0)
        #expect(h.scheduler.stats().first { $0.name == "haiku" }?.failedRequests == 1)
    }

    @Test("the next request loads the file anew; work queued behind the failed streams waits for that load")
    func reloads() throws {
        let (h, _) = try loadBoth(changingHaikuAt: 1)
        let sink = CollectingSink()
        for id in 1...3 { h.generate("x", tier: "haiku", id: UInt64(id), sink: sink, maxTokens: 4) }  // max_batch 2: one queued
        h.executor.settle()
        #expect(try #require(sink.final(of: 1)).error == changed)
        #expect(try #require(sink.final(of: 2)).error == changed)
        let queued = try #require(sink.final(of: 3))
        #expect(queued.error == nil && sink.text(of: 3) == "cdef")
        #expect(h.backends.opened == ["haiku", "opus", "haiku"])
        #expect(h.state("haiku") == .ready)

        h.generate("x", tier: "haiku", id: 4, sink: sink, maxTokens: 2)
        h.executor.settle()
        #expect(try #require(sink.final(of: 4)).error == nil)
    }

    @Test("a file changed while the tier sat idle is noticed before new work starts: the work waits for the reload")
    func idleChange() throws {
        let (h, model) = try loadBoth(changingHaikuAt: -1)
        model.fileProblem = "written in place"
        let sink = CollectingSink()
        h.generate("x", tier: "haiku", id: 1, sink: sink, maxTokens: 3)
        #expect(h.state("haiku") == .failed)
        h.executor.settle()
        #expect(model.isClosed && model.evaluateCalls.isEmpty)
        #expect(try #require(sink.final(of: 1)).error == nil && sink.text(of: 1) == "cde")
        #expect(h.backends.opened == ["haiku", "opus", "haiku"])
    }

    @Test("a tokenize call during which the file changed fails with the same error and fails the tier")
    func tokenizeFails() throws {
        let (h, model) = try loadBoth(changingHaikuAt: -1)
        model.onTokenize = { [unowned model] in model.fileProblem = "written in place" }
        let sink = CollectingSink()
        var request = TokenizeRequest()
        request.tier = "haiku"
        request.text = "hi"
        h.scheduler.tokenize(request, id: 1, sink: sink)
        h.executor.settle()
        #expect(try #require(sink.final(of: 1)).error == changed)
        #expect(h.state("haiku") == .failed)
        #expect(model.isClosed)
        #expect(h.state("opus") == .ready)
    }
}

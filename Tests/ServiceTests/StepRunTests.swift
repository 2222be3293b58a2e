import Testing
import MoeAPI
@testable import Service

/// A tier's lane runs decoding steps back to back while its streams stay
/// the same; the loop ends a run early when something changes. The fake
/// model's `onEvaluate` hook runs the loop's pending work in the middle of
/// a run, as the loop thread would while the lane computes.
@Suite("Runs of steps")
struct StepRunTests {
    @Test("the lane goes on to the next step without waiting for the loop")
    func pipelined() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: 5)
        h.openModel()
        var waiting: [Int] = []
        h.backends.models["haiku"]!.onEvaluate = { _ in waiting.append(h.executor.pendingLoopCount) }
        h.executor.settle()
        // Each step's outcome is still unhandled on the loop when the next step starts.
        #expect(waiting == [0, 1, 2, 3, 4])
        #expect(sink.text(of: 1) == "defgh")
        guard case .summary(let summary) = sink.final(of: 1)?.result else { Issue.record("no summary"); return }
        #expect(summary.finishReason == "length")
    }

    @Test("one step per run waits for the loop between tokens, with the same text")
    func oneStepPerRun() throws {
        let h = try Harness(Harness.twoTiers, stepsPerRun: 1)
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: 5)
        h.openModel()
        var waiting: [Int] = []
        h.backends.models["haiku"]!.onEvaluate = { _ in waiting.append(h.executor.pendingLoopCount) }
        h.executor.settle()
        #expect(waiting.count == 5 && waiting.allSatisfy { $0 == 0 })
        #expect(sink.text(of: 1) == "defgh")
    }

    @Test("a stop string found on the loop ends the run at the next step")
    func stopStringYields() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        var request = GenerateRequest()
        request.prompt = "ab"
        request.maxTokens = 50
        request.stop = ["f"]
        h.scheduler.generate(request, id: 1, sink: sink)
        h.openModel()
        let model = try #require(h.backends.models["haiku"])
        model.onEvaluate = { _ in h.executor.runLoopWork() }
        h.executor.settle()
        #expect(sink.text(of: 1) == "de")
        guard case .summary(let summary) = sink.final(of: 1)?.result else { Issue.record("no summary"); return }
        #expect(summary.finishReason == "stop_string")
        // d, e, f (the stop), and at most the one step the lane had begun.
        #expect(model.evaluateCalls.count <= 4)
        #expect(model.removedSequences == [0])
    }

    @Test("a request that arrives mid-run joins at the next step")
    func newcomerJoins() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: 10)
        h.openModel()
        let model = try #require(h.backends.models["haiku"])
        model.onEvaluate = { calls in
            if calls == 2 { h.generate("cd", id: 2, sink: sink, maxTokens: 3) }
        }
        h.executor.settle()
        let sequences = model.evaluateCalls.map { Set($0.map(\.sequence)) }
        try #require(sequences.count > 3, "\(sequences)")
        #expect(sequences.prefix(3).allSatisfy { $0 == [0] })
        #expect(sequences[3] == [0, 1])  // the next step after the arrival
        #expect(sink.text(of: 1) == "defghijabc")
        #expect(try #require(sink.final(of: 2)).error == nil)
    }

    @Test("a stream cancelled mid-run frees its sequence once and the others go on")
    func cancelMidRun() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: 20)
        h.generate("ab", id: 2, sink: sink, maxTokens: 8)
        h.openModel()
        let model = try #require(h.backends.models["haiku"])
        model.onEvaluate = { calls in
            h.executor.runLoopWork()
            if calls == 3 { h.scheduler.cancel(target: 1, id: 3, sink: sink) }
        }
        h.executor.settle()
        #expect(sink.final(of: 1)?.error?.code == .cancelled)
        #expect(try #require(sink.final(of: 2)).error == nil)
        #expect(sink.text(of: 2) == "defghija")
        #expect(model.removedSequences.filter { $0 == 0 }.count == 1)
        try #require(model.evaluateCalls.count == 8)
        #expect(model.evaluateCalls.suffix(3).allSatisfy { Set($0.map(\.sequence)) == [1] })
    }
}

extension Harness {
    /// Runs work one item at a time until haiku's model is open, before
    /// its first run of steps starts (that is queued by the loop after).
    func openModel() {
        for _ in 0..<100 where backends.models["haiku"] == nil { executor.settle(limit: 1) }
    }
}

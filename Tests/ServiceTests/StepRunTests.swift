import Testing
import MoeAPI
import PluginHost
@testable import Service

/// A tier's lane runs decoding steps back to back while its streams stay
/// the same; the loop ends a run early when something changes. The fake
/// model's `onEvaluate` hook runs the loop's pending work in the middle of
/// a run, as the loop thread would while the lane computes.
@Suite("Runs of steps")
struct StepRunTests {
    /// The two-tier harness with one stream ("ab", id 1) asked for and its model open.
    static func streaming(maxTokens: UInt32) throws -> (Harness, CollectingSink) {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.generate("ab", id: 1, sink: sink, maxTokens: maxTokens)
        h.openModel()
        return (h, sink)
    }

    @Test("the lane goes on to the next step without waiting for the loop")
    func pipelined() throws {
        let (h, sink) = try Self.streaming(maxTokens: 5)
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
        let (h, sink) = try Self.streaming(maxTokens: 10)
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

    @Test("a long prompt joins in chunks while another stream generates, and yields the same text")
    func chunkedPrefill() throws {
        let long = String(repeating: "xyz", count: 13)  // 39 bytes + BOS: 40 prompt tokens
        func run(chunk: Int) throws -> (calls: [[BatchItem]], sink: CollectingSink) {
            let h = try Harness(Harness.twoTiers, prefillChunk: chunk)
            let sink = CollectingSink()
            h.generate("ab", id: 1, sink: sink, maxTokens: 10)
            h.openModel()
            let model = try #require(h.backends.models["haiku"])
            model.onEvaluate = { calls in
                if calls == 2 { h.generate(long, id: 2, sink: sink, maxTokens: 3) }
            }
            h.executor.settle()
            return (model.evaluateCalls, sink)
        }
        let (calls, sink) = try run(chunk: 16)
        let newcomer: [[BatchItem]] = calls.map { step in step.filter { $0.sequence == 1 } }
        let joined = try #require(newcomer.firstIndex { !$0.isEmpty })
        try #require(newcomer.count >= joined + 4)
        let prompt = Array(newcomer[joined..<(joined + 3)])
        // 16 + 16 + 8 prompt tokens in three steps, then one token a step
        let sizes: [Int] = newcomer[joined..<(joined + 4)].map { $0.count }
        #expect(sizes == [16, 16, 8, 1])
        let positions: [Int32] = prompt.flatMap { $0 }.map { $0.position }
        #expect(positions == (0..<40).map { Int32($0) })
        // logits only for the prompt's last token, not at the ends of the first chunks
        let logits: [Int] = prompt.map { step in step.filter { $0.wantsLogits }.count }
        #expect(logits == [0, 0, 1])
        // the running stream got its token in every one of those steps
        let running: [Int] = calls[joined..<(joined + 3)].map { step in step.filter { $0.sequence == 0 }.count }
        #expect(running == [1, 1, 1])
        #expect(sink.text(of: 1) == "defghijabc")
        let whole = try run(chunk: 1 << 20)
        let wholeNewcomer: [[BatchItem]] = whole.calls.map { step in step.filter { $0.sequence == 1 } }
        #expect(wholeNewcomer.first { !$0.isEmpty }?.count == 40)
        // the prompt's last position (39) predicts text[40 % 10], then one a step
        #expect(sink.text(of: 2) == "abc")
        #expect(sink.text(of: 2) == whole.sink.text(of: 2))
        #expect(try #require(sink.final(of: 2)).error == nil)
    }

    @Test("a backend that returns too few rows of logits fails the step's streams instead of leaving one waiting")
    func missingRowFails() throws {
        let (h, sink) = try Self.streaming(maxTokens: 5)
        try #require(h.backends.models["haiku"]).dropsARow = true
        h.executor.settle()
        let error = try #require(sink.final(of: 1)?.error)
        #expect(error.message.contains("returned 0 rows of logits for 1"), "\(error.message)")
    }

    @Test("a prompt with no stream generating is evaluated whole, however long")
    func aloneNotChunked() throws {
        let h = try Harness(Harness.twoTiers, prefillChunk: 4)
        let sink = CollectingSink()
        h.generate("abcdefghij", id: 1, sink: sink, maxTokens: 2)
        h.openModel()
        h.executor.settle()
        let model = try #require(h.backends.models["haiku"])
        #expect(model.evaluateCalls.first?.count == 11)
        #expect(try #require(sink.final(of: 1)).error == nil)
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

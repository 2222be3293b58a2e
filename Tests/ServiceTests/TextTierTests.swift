import CMoePlugin
import MoeAPI
import PluginHost
import Testing
@testable import Service

/// A text-level model (as the remote plugin is): pieces of text, then the
/// backend's usage; `onPiece` lets a test act between two pieces.
final class FakeTextModel: ModelBackend {
    let info = ModelInfo(architecture: "remote", name: "r", vocabularySize: 0, contextLength: 0, layers: 0,
                         experts: 0, expertsUsed: 0, bosToken: nil, eosToken: nil, eotToken: nil)
    var pieces = ["ab", "c", "d"]
    var failure: PluginCallError?
    var onPiece: (Int) -> Void = { _ in }
    private(set) var requests: [TextRequest] = []
    private(set) var isClosed = false

    var generatesText: Bool { true }
    func generateText(_ request: TextRequest, onDelta: @escaping (String) -> Bool,
                      isCancelled: @escaping () -> Bool) throws -> TextResult {
        requests.append(request)
        if let failure { throw failure }
        for (index, piece) in pieces.enumerated() {
            onPiece(index)
            if onDelta(piece) || isCancelled() {
                throw PluginCallError(code: MOE_ERR_CANCELLED.rawValue, operation: "generate_text", message: "cancelled")
            }
        }
        return TextResult(finishReason: "length", promptTokens: 7, completionTokens: pieces.count)
    }

    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] { throw StepError("no tokenizer") }
    func detokenize(_ tokens: [Int32]) throws -> [UInt8] { throw StepError("no tokenizer") }
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String { throw StepError("no template") }
    func createSequence() throws -> Int32 { throw StepError("no sequences") }
    func removeSequence(_ sequence: Int32) throws { throw StepError("no sequences") }
    func clearSequence(_ sequence: Int32) throws { throw StepError("no sequences") }
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] { throw StepError("no logits") }
    func expertStatistics() throws -> [UInt64] { [] }
    func routingEntropy() throws -> [Double] { [] }
    func close() { isClosed = true }
}

@Suite("Scheduler: text-level (remote) tiers")
struct TextTierTests {
    static let config = """
        [daemon]
        max_batch = 2
        [tiers.far]
        plugin = "fake"
        model = "r"
        temperature = 0.25
        top_k = 7
        stop = ["END"]
        """

    func harness(_ model: FakeTextModel) throws -> Harness {
        let h = try Harness(Self.config)
        h.backends.makeModel = { _ in model }
        h.backends.sizes["r"] = 0  // the remote plugin estimates nothing
        return h
    }

    @Test("each request is one call on a lane of its own, at most max_batch at once; chunks, summary and counters follow the backend")
    func streams() throws {
        let model = FakeTextModel()
        let h = try harness(model)
        let sink = CollectingSink()
        for id in UInt64(1)...3 { h.generate("p\(id)", id: id, sink: sink, maxTokens: 9) }
        // Run the load, then look at what is queued on the lanes before any call runs.
        while !h.executor.laneWork.contains(where: { $0.lane.contains("#") }) && h.executor.pendingLaneCount + h.executor.pendingLoopCount > 0 {
            h.executor.settle(limit: 1)
        }
        #expect(h.executor.laneWork.map(\.lane) == ["far#0", "far#1"])
        h.executor.settle()
        for id in UInt64(1)...3 {
            #expect(sink.text(of: id) == "abcd")
            guard case .summary(let summary)? = sink.final(of: id)?.result else {
                Issue.record("no summary for \(id): \(String(describing: sink.final(of: id)))")
                continue
            }
            #expect(summary.finishReason == "length")
            #expect(summary.promptTokens == 7 && summary.completionTokens == 3)
        }
        let request = try #require(model.requests.first)
        #expect(request.prompt == "p1" && request.maxTokens == 9 && request.sampling.temperature == 0.25 && request.sampling.topK == 7)
        #expect(request.stops == ["END"])
        let stats = try #require(h.scheduler.stats().first)
        #expect(stats.requests == 3 && stats.failedRequests == 0)
        #expect(stats.promptTokens == 21 && stats.completionTokens == 9)
        #expect(stats.firstToken.counts.reduce(0, +) == 3)
        #expect(stats.tokenLatency.counts.reduce(0, +) == 6)
        #expect(h.scheduler.tierStatuses().first?.memoryBytes == 0)
    }

    @Test("a cancel mid-call reaches the lane's flag; the client hears CANCELLED once and the slot frees")
    func cancel() throws {
        let model = FakeTextModel()
        let h = try harness(model)
        let sink = CollectingSink()
        model.onPiece = { index in
            guard index == 1 else { return }
            h.executor.runLoopWork()  // the loop delivers the first piece…
            h.scheduler.cancel(target: 1, id: 2, sink: sink)  // …and the client cancels
        }
        h.generate("p", id: 1, sink: sink)
        h.executor.settle()
        #expect(sink.final(of: 1)?.error?.code == .cancelled)
        #expect(sink.responses.filter { $0.id == 1 && $0.isFinal }.count == 1)
        #expect(sink.text(of: 1) == "ab")
        #expect(h.scheduler.tierStatuses().first?.activeRequests == 0)
        #expect(h.scheduler.stats().first?.failedRequests == 1)
        model.onPiece = { _ in }
        h.generate("q", id: 3, sink: sink)
        h.executor.settle()
        #expect(sink.text(of: 3) == "abcd")
    }

    @Test("backend failures keep their meaning and name the tier; tokenize and structured output are refused", arguments: [
        (MOE_ERR_UNAVAILABLE.rawValue, StatusCode.unavailable), (MOE_ERR_TIMEOUT.rawValue, .deadlineExceeded),
        (MOE_ERR_NOT_FOUND.rawValue, .notFound), (MOE_ERR_PERMISSION.rawValue, .permissionDenied),
        (MOE_ERR_RATE_LIMITED.rawValue, .resourceExhausted), (MOE_ERR_INVALID_ARGUMENT.rawValue, .invalidArgument),
        (MOE_ERR_FORMAT.rawValue, .unavailable),
    ])
    func failures(_ status: Int32, _ code: StatusCode) throws {
        let model = FakeTextModel()
        model.failure = PluginCallError(code: status, operation: "generate_text", message: "upstream http://x/v1: it said no")
        let h = try harness(model)
        let sink = CollectingSink()
        h.generate("p", id: 1, sink: sink)
        h.executor.settle()
        let error = try #require(sink.final(of: 1)?.error)
        #expect(error.code == code)
        #expect(error.message == "tier far: upstream http://x/v1: it said no")
        var tokenize = TokenizeRequest()
        tokenize.text = "x"
        h.scheduler.tokenize(tokenize, id: 2, sink: sink)
        var schema = GenerateRequest()
        schema.prompt = "p"
        schema.jsonSchema = #"{"type":"string"}"#
        h.scheduler.generate(schema, id: 3, sink: sink)
        h.executor.settle()
        #expect(sink.final(of: 2)?.error?.code == .unimplemented)
        #expect(sink.final(of: 3)?.error?.code == .invalidArgument)
        #expect(sink.final(of: 3)?.error?.message.contains("json_schema") == true)
    }
}

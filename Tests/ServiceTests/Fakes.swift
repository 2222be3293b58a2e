import MoeAPI
import PluginHost
@testable import Service

/// A clock the test moves by hand.
final class FakeClock {
    var now = 1000.0
}

/// Runs lane work only when the test says so, then loop work, all on the
/// test's thread: the scheduler's asynchrony becomes a deterministic script.
final class ManualExecutor: WorkExecutor {
    private(set) var laneWork: [(lane: String, work: () -> Void)] = []
    private var loopWork: [() -> Void] = []

    func run(lane: String, _ work: @escaping () -> Void) { laneWork.append((lane, work)) }
    func post(_ work: @escaping () -> Void) { loopWork.append(work) }

    /// Runs everything queued until nothing is left (or `limit` rounds).
    func settle(limit: Int = 1000) {
        for _ in 0..<limit {
            if !laneWork.isEmpty {
                laneWork.removeFirst().work()
            } else if !loopWork.isEmpty {
                loopWork.removeFirst()()
            } else {
                return
            }
        }
    }

    var pendingLaneCount: Int { laneWork.count }
    var pendingLoopCount: Int { loopWork.count }

    /// Runs the loop work queued so far, now: called from inside lane work
    /// it plays the loop thread acting while the lane is busy.
    func runLoopWork() {
        while !loopWork.isEmpty { loopWork.removeFirst()() }
    }
}

/// Collects what the scheduler sends to one client.
final class CollectingSink: ResponseSink {
    var isOpen = true
    let connectionID: UInt64
    private(set) var responses: [Response] = []

    init(connectionID: UInt64 = 1) { self.connectionID = connectionID }

    func send(_ response: Response) { responses.append(response) }

    func final(of id: UInt64) -> Response? { responses.first { $0.id == id && $0.isFinal } }

    func text(of id: UInt64) -> String {
        responses.filter { $0.id == id }.compactMap { r -> String? in
            if case .chunk(let c) = r.result { return c.text }
            return nil
        }.joined()
    }
}

/// A model that counts calls and predicts `text` cyclically by position.
final class FakeModel: ModelBackend {
    let info: ModelInfo
    let text: [UInt8]
    var evaluateCalls: [[BatchItem]] = []
    /// Called at the start of each evaluate with the number of calls so far.
    var onEvaluate: ((Int) -> Void)?
    var removedSequences: [Int32] = []
    var isClosed = false
    /// What `fileProblem(since:)` reports: set it to play a file changed on disk.
    var fileProblem: String?
    /// Return one logits row fewer than asked for (a backend breaking its contract).
    var dropsARow = false
    /// Called at the start of each tokenize.
    var onTokenize: (() -> Void)?
    private var next: Int32 = 0

    init(text: String, eosAfter: Int? = nil) {
        self.text = Array(text.utf8)
        info = ModelInfo(architecture: "fake", name: "", vocabularySize: 258, contextLength: 64, layers: 1, experts: 0,
                         expertsUsed: 0, bosToken: 256, eosToken: 257, eotToken: nil)
        self.eosAfter = eosAfter
    }

    let eosAfter: Int?

    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        onTokenize?()
        return (addSpecial ? [256] : []) + text.utf8.map { Int32($0) }
    }
    func detokenize(_ tokens: [Int32]) throws -> [UInt8] { tokens.filter { $0 < 256 }.map { UInt8($0) } }
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        turns.map { "\($0.role): \($0.content)\n" }.joined()
    }
    func createSequence() throws -> Int32 { defer { next += 1 }; return next }
    func removeSequence(_ sequence: Int32) throws { removedSequences.append(sequence) }
    var clearedSequences: [Int32] = []
    func clearSequence(_ sequence: Int32) throws { clearedSequences.append(sequence) }
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] {
        onEvaluate?(evaluateCalls.count)
        evaluateCalls.append(items)
        return items.filter(\.wantsLogits).dropLast(dropsARow ? 1 : 0).map { item in
            var row = [Float](repeating: 0, count: 258)
            let p = Int(item.position) + 1
            row[eosAfter.map { p >= $0 } == true ? 257 : Int(text[p % text.count])] = 10
            return row[...]
        }
    }
    func expertStatistics() throws -> [UInt64] { [] }
    func routingEntropy() throws -> [Double] { [] }
    func close() { isClosed = true }
    func fileProblem(since checkpoint: UInt64) -> String? { fileProblem }
}

/// Opens fake models; sizes and failures set per model path.
final class FakeBackends: BackendProvider {
    var sizes: [String: UInt64] = [:]
    var failingPaths: Set<String> = []
    var opened: [String] = []
    var models: [String: FakeModel] = [:]
    var eosAfter: Int?

    func estimate(_ tier: TierSettings, maxSequences: Int) throws -> UInt64 {
        if failingPaths.contains(tier.model) { throw StepError("no such model \(tier.model)") }
        return sizes[tier.model] ?? 100
    }

    /// Opens this instead of a FakeModel when set (e.g. a model that edits sequences).
    var makeModel: ((TierSettings) -> ModelBackend)?

    func open(_ tier: TierSettings, maxSequences: Int, progress: @escaping (Float) -> Void) throws -> ModelBackend {
        opened.append(tier.name)
        progress(0.5)
        progress(1)
        if let makeModel { return makeModel(tier) }
        let model = FakeModel(text: "abcdefghij", eosAfter: eosAfter)
        models[tier.name] = model
        return model
    }

    func pluginReport(for tiers: [TierSettings]) -> [PluginInfo] { [] }
}

/// A scheduler over fakes, with a config made in code.
struct Harness {
    let clock = FakeClock()
    let executor = ManualExecutor()
    let backends = FakeBackends()
    let scheduler: Scheduler

    init(_ toml: String, stepsPerRun: Int = 64, prefillChunk: Int = 256) throws {
        let configuration = try Configuration.parse(toml, path: "test.toml")
        let clock = self.clock
        var environment = SchedulerEnvironment(now: { clock.now }, backends: backends, executor: executor,
                                               physicalMemory: { 1 << 30 })
        environment.stepsPerRun = stepsPerRun
        environment.prefillChunk = prefillChunk
        scheduler = Scheduler(configuration: configuration, environment: environment)
    }

    static let twoTiers = """
        [daemon]
        memory_budget = 1000
        max_queue = 4
        max_batch = 2
        [tiers.haiku]
        plugin = "fake"
        model = "h"
        temperature = 0
        keep_alive = "10s"
        [tiers.opus]
        plugin = "fake"
        model = "o"
        temperature = 0
        """

    func generate(_ prompt: String, tier: String = "", id: UInt64, sink: CollectingSink, maxTokens: UInt32 = 3) {
        var request = GenerateRequest()
        request.tier = tier
        request.prompt = prompt
        request.maxTokens = maxTokens
        scheduler.generate(request, id: id, sink: sink)
    }

    func state(_ tier: String) -> TierState? {
        scheduler.tierStatuses().first { $0.name == tier }?.state
    }
}

import MoeAPI
import PluginHost

/// A model as the scheduler uses it. `PluginModel` is the real one; tests
/// pass fakes. Called only from the tier's worker lane, never the loop
/// (except `fileChange`, an fstat, made on the loop while the lane is idle).
public protocol ModelBackend: AnyObject {
    var info: ModelInfo { get }
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32]
    func detokenize(_ tokens: [Int32]) throws -> [UInt8]
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String
    func createSequence() throws -> Int32
    func removeSequence(_ sequence: Int32) throws
    /// Forgets every position of the sequence (a context shift re-fills it).
    func clearSequence(_ sequence: Int32) throws
    /// One logits row per item that wants one, in item order.
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>]
    func expertStatistics() throws -> [UInt64]
    /// Per layer, the mean routing entropy in nats; empty for dense.
    func routingEntropy() throws -> [Double]
    /// Prefix reuse (the plugin's optional sequence_* entries): whether
    /// the model can cut, copy and measure a sequence's KV.
    var canEditSequences: Bool { get }
    func truncateSequence(_ sequence: Int32, to count: Int) throws
    func copySequence(_ source: Int32, to destination: Int32, count: Int) throws
    func sequenceBytes(_ sequence: Int32) throws -> UInt64
    /// Bytes held now (weights, KV allocated, scratch); nil when unknown.
    func memoryUsage() throws -> MemoryUsage?
    /// KV bytes of one sequence at `positions` positions; nil when unknown.
    func sequenceBytes(positions: Int) throws -> UInt64?
    func close()
    /// Text-level backends (a remote tier): served through `generateText`
    /// on lanes of their own, several at once, never through `evaluate`.
    var generatesText: Bool { get }
    func generateText(_ request: TextRequest, onDelta: @escaping (String) -> Bool,
                      isCancelled: @escaping () -> Bool) throws -> TextResult
    /// A mark to hand to `fileProblem(since:)` once some work is done.
    func fileCheckpoint() -> UInt64
    /// Why the results of work since `checkpoint` cannot be trusted (the
    /// model's file changed on disk, or a read of its mapped bytes
    /// faulted), or nil. Checked on the lane after each step.
    func fileProblem(since checkpoint: UInt64) -> String?
}

extension ModelBackend {
    /// A model without a watched file never reports a problem.
    public func fileCheckpoint() -> UInt64 { 0 }
    public func fileProblem(since checkpoint: UInt64) -> String? { nil }

    /// A model of tokens and logits, the usual kind.
    public var generatesText: Bool { false }
    public func generateText(_ request: TextRequest, onDelta: @escaping (String) -> Bool,
                             isCancelled: @escaping () -> Bool) throws -> TextResult {
        throw StepError("this model does not generate text directly")
    }

    /// A model without the prefix-reuse entries: every request prefills.
    public var canEditSequences: Bool { false }
    public func truncateSequence(_ sequence: Int32, to count: Int) throws { throw StepError("no sequence_truncate") }
    public func copySequence(_ source: Int32, to destination: Int32, count: Int) throws { throw StepError("no sequence_copy") }
    public func sequenceBytes(_ sequence: Int32) throws -> UInt64 { throw StepError("no sequence_bytes") }
    /// A model that does not report memory is counted by its estimate.
    public func memoryUsage() throws -> MemoryUsage? { nil }
    public func sequenceBytes(positions: Int) throws -> UInt64? { nil }

    /// How the model's file changed on disk, or nil: an fstat, which the
    /// loop may also make while the tier's lane is idle.
    var fileChange: String? { fileProblem(since: fileCheckpoint()) }
}

extension PluginModel: ModelBackend {}

/// Opens models for tiers (the plugin loader in the daemon, fakes in
/// tests). Called off the loop thread.
public protocol BackendProvider: AnyObject {
    /// Bytes the tier's model would take, before committing to open it.
    func estimate(_ tier: TierSettings, maxSequences: Int) throws -> UInt64
    /// The estimate's line items (weights, one full-context sequence's KV, scratch).
    func memoryEstimate(_ tier: TierSettings, maxSequences: Int) throws -> MemoryEstimate
    func open(_ tier: TierSettings, maxSequences: Int, progress: @escaping (Float) -> Void) throws -> ModelBackend
    /// What is known about the plugins the tiers name.
    func pluginReport(for tiers: [TierSettings]) -> [PluginInfo]
}

extension BackendProvider {
    /// Providers that only give a total count it all as weights.
    public func memoryEstimate(_ tier: TierSettings, maxSequences: Int) throws -> MemoryEstimate {
        MemoryEstimate(weightBytes: try estimate(tier, maxSequences: maxSequences), cacheBytes: 0, scratchBytes: 0)
    }
}

/// Runs blocking work off the loop thread, serially per lane (one lane
/// per tier, so a model is used by one thread at a time), and brings
/// results back to the loop.
public protocol WorkExecutor: AnyObject {
    func run(lane: String, _ work: @escaping () -> Void)
    /// Runs `work` on the loop thread soon. Safe from any thread.
    func post(_ work: @escaping () -> Void)
}

extension WorkExecutor {
    /// Runs `work` on `lane`, then `done` with its result on the loop.
    func run<T>(lane: String, _ work: @escaping () -> T, done: @escaping (T) -> Void) {
        run(lane: lane) { [self] in
            let result = work()
            post { done(result) }
        }
    }
}

/// The side effects the scheduler needs, as values (fakes in tests).
public struct SchedulerEnvironment {
    /// Monotonic seconds.
    public var now: () -> Double
    public var backends: BackendProvider
    public var executor: WorkExecutor
    /// Physical memory in bytes, for a budget of "auto".
    public var physicalMemory: () -> UInt64
    /// Steps a tier's lane may take back to back while its streams stay
    /// the same, before the loop starts the next run: the lane does not
    /// wait for the loop between tokens (one thread round trip per token
    /// cost 4-7 % of generation speed). The loop can end a run sooner.
    public var stepsPerRun = 64
    /// Prompt tokens a step evaluates for each newcomer while other streams
    /// of the tier are generating: a long prompt joins in chunks, one a
    /// step, so the running streams get a token every step instead of
    /// waiting for the whole prompt (2000 tokens of the 1.5B Q4_K_M bench
    /// file, prompt rate ~115 tokens/s on two AVX2 cores, would hold them
    /// ~17 s; measured through moed only on SmolLM2: a ~1540-token prompt
    /// left a running stream's longest pause at 0.48 s). Without a
    /// stream generating, a prompt is evaluated whole in one step.
    public var prefillChunk = 256

    public init(now: @escaping () -> Double, backends: BackendProvider, executor: WorkExecutor,
                physicalMemory: @escaping () -> UInt64) {
        self.now = now
        self.backends = backends
        self.executor = executor
        self.physicalMemory = physicalMemory
    }
}

/// Why a call failed, as the scheduler reports it to clients.
struct Failure: Error {
    let error: RemoteError
    init(_ code: StatusCode, _ message: String) { error = RemoteError(code, message) }
}

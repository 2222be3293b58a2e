import MoeAPI
import PluginHost

/// Someone waiting for a tier to finish loading: a `load` or `use` call.
struct LoadWaiter {
    enum Purpose { case load, use }
    let sink: ResponseSink
    let requestID: UInt64
    let purpose: Purpose
}

/// Someone waiting for a tier to finish unloading.
struct UnloadWaiter {
    let sink: ResponseSink
    let requestID: UInt64
}

/// Work waiting for a tier to be ready.
enum TierWork {
    case generate(Generation)
    case tokenize(TokenizeJob)

    var sink: ResponseSink {
        switch self {
        case .generate(let g): g.sink
        case .tokenize(let t): t.sink
        }
    }

    var requestID: UInt64 {
        switch self {
        case .generate(let g): g.requestID
        case .tokenize(let t): t.requestID
        }
    }
}

struct TokenizeJob {
    let sink: ResponseSink
    let requestID: UInt64
    let request: TokenizeRequest
}

/// Counters for `moectl stats`.
struct TierCounters {
    var requests: UInt64 = 0
    var failedRequests: UInt64 = 0
    var promptTokens: UInt64 = 0
    var completionTokens: UInt64 = 0
    var generationSeconds = 0.0
    var layers: UInt32 = 0
    var experts: UInt32 = 0
    var expertCounts: [UInt64] = []
    var routingEntropy: [Double] = []
    /// Prompt tokens continued from cached sequences, and the requests that did.
    var cachedPromptTokens: UInt64 = 0
    var prefixCacheHits: UInt64 = 0
    var firstToken = LatencyHistogram()
    var tokenLatency = LatencyHistogram()
    var loads: UInt64 = 0
    var evictions: UInt64 = 0
    var loadFailures: UInt64 = 0
    /// Most KV the tier's cache held at once, and requests and loads refused for memory.
    var kvCachePeakBytes: UInt64 = 0
    var memoryRefusals: UInt64 = 0
}

/// One tier's runtime: its settings, state, model and queues. Lives on
/// the loop thread; only `model` is handed to the worker lane.
final class Tier {
    var settings: TierSettings
    private(set) var state = TierState.unloaded
    /// Setting a model (or nil) starts an empty prefix cache with it.
    var model: ModelBackend? {
        didSet { prefixCache = model.flatMap { $0.canEditSequences ? PrefixCache(limits: settings.prefixCache) : nil } }
    }
    /// Finished sequences kept for reuse; nil without a model that can edit sequences.
    private(set) var prefixCache: PrefixCache?
    /// Its memory account (see `TierMemory`); `memoryAccount` adds the prefix cache.
    var memory = TierMemory()
    var lastError = ""
    var loadProgress: Float = 0
    var loadWaiters: [LoadWaiter] = []
    var unloadWaiters: [UnloadWaiter] = []
    var queue: [TierWork] = []
    var active: [Generation] = []
    /// Sequences of finished generations, kept or removed by the next job.
    var retiredSequences: [RetiredSequence] = []
    var isStepInFlight = false
    /// How the loop asks the run of steps in flight to hand the tier back.
    var stepYield: StepYield?
    var isJobInFlight = false
    var lastUsed: Double
    var counters = TierCounters()
    /// Token bytes for structured output, built on first use per model.
    let grammarVocabularies = GrammarVocabularyCache()
    /// Removed from the config by a reload: unloads, then disappears.
    var isRetired = false
    /// Settings changed by a reload while loaded: reload on next use.
    var isStale = false

    init(settings: TierSettings, now: Double) {
        self.settings = settings
        self.lastUsed = now
    }

    var name: String { settings.name }

    /// Bytes the tier holds: its estimate and its cached prefixes.
    var prefixCacheBytes: UInt64 { prefixCache?.bytes ?? 0 }

    /// Drops cached prefixes, least recently used first, until `target`
    /// bytes are freed; their sequences go to the lane's next job.
    /// Returns the bytes freed (the memory returns when that job runs).
    func dropCachedPrefixes(toFree target: UInt64) -> UInt64 {
        guard let prefixCache else { return 0 }
        let (sequences, freed) = prefixCache.evict(toFree: target)
        retiredSequences += sequences.map(RetiredSequence.remove)
        return freed
    }

    /// Moves along the state machine; false (and no change) if not allowed.
    @discardableResult
    func move(to next: TierState) -> Bool {
        guard state.canMove(to: next) else {
            moedLog.error("tier \(name): refused move \(state.name) → \(next.name)", metadata: ["tier": "\(name)"])
            return false
        }
        state = next
        return true
    }

    /// What the budget counts for the tier now.
    var memoryBytes: UInt64 {
        state == .unloaded || state == .failed ? 0 : memoryAccount.account(sequences: runningCount)
    }

    /// The account with the prefix cache's bytes as its line item.
    var memoryAccount: TierMemory {
        var account = memory
        account.prefixCacheBytes = prefixCacheBytes
        return account
    }

    /// Generations still running (a finished one leaves `active` at the step's end).
    var runningCount: Int { active.filter { !$0.isCancelled }.count }

    /// Loaded, with nothing running or waiting: may be unloaded.
    var isIdle: Bool {
        state == .ready && active.isEmpty && queue.isEmpty && !isStepInFlight && !isJobInFlight
    }

    func status(isDefault: Bool, now: Double) -> TierStatus {
        var s = TierStatus()
        s.name = name
        s.plugin = settings.plugin
        s.model = settings.model
        if let url = settings.remoteURL {
            s.remoteURL = url
            s.model = settings.pluginSettings.first { $0.key == "remote_model" }?.value ?? name
        }
        s.state = state
        s.isDefault = isDefault
        s.isPinned = settings.isPinned
        s.memoryBytes = memoryBytes
        s.activeRequests = UInt32(active.filter { !$0.isCancelled }.count)
        s.queuedRequests = UInt32(queue.count)
        s.lastError = lastError
        s.context = UInt32(settings.context)
        s.keepAliveSeconds = settings.keepAlive ?? -1
        s.idleSeconds = isIdle ? max(0, now - lastUsed) : 0
        s.loadProgress = loadProgress
        s.cachedSequences = UInt32(clamping: prefixCache?.count ?? 0)
        s.cachedBytes = prefixCacheBytes
        s.memory = memoryAccount.figures(sequences: runningCount, kvType: settings.kvType)
        return s
    }
}


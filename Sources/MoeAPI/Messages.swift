/// Swift mirrors of the messages in Protos/moed/v1/moed.proto. Nothing
/// outside MoeAPI sees protobuf-c types; these are what the service and
/// the client use.

/// One call from a client, with the id that every answer echoes.
public struct Request: Sendable, Equatable {
    public var id: UInt64
    public var call: Call

    public init(id: UInt64, call: Call) {
        self.id = id
        self.call = call
    }
}

public enum Call: Sendable, Equatable {
    case status
    case tiers
    case plugins
    case load(tier: String)
    case unload(tier: String)
    case use(tier: String)
    case generate(GenerateRequest)
    case tokenize(TokenizeRequest)
    case stats
    case reload
    case cancel(targetID: UInt64)

    /// The verb's name, for logs and errors.
    public var name: String {
        switch self {
        case .status: "status"
        case .tiers: "tiers"
        case .plugins: "plugins"
        case .load: "load"
        case .unload: "unload"
        case .use: "use"
        case .generate: "generate"
        case .tokenize: "tokenize"
        case .stats: "stats"
        case .reload: "reload"
        case .cancel: "cancel"
        }
    }
}

/// One answer: non-final ones stream, exactly one per call is final.
public struct Response: Sendable, Equatable {
    public var id: UInt64
    public var isFinal: Bool
    public var error: RemoteError?
    public var result: Result?

    public init(id: UInt64, isFinal: Bool, error: RemoteError? = nil, result: Result? = nil) {
        self.id = id
        self.isFinal = isFinal
        self.error = error
        self.result = result
    }

    /// A final answer carrying an error.
    public static func failure(id: UInt64, _ error: RemoteError) -> Response {
        Response(id: id, isFinal: true, error: error)
    }

    public enum Result: Sendable, Equatable {
        case status(StatusReply)
        case tiers(TiersReply)
        case plugins([PluginInfo])
        case loadProgress(tier: String, fraction: Float)
        case tier(TierStatus)
        case chunk(GenerateChunk)
        case summary(GenerateSummary)
        case tokenize(TokenizeReply)
        case stats([TierStats])
        case reload(ReloadReply)
    }
}

public enum TierState: Int, Sendable, Equatable, CaseIterable {
    case unloaded = 0, loading, ready, draining, failed

    public var name: String {
        switch self {
        case .unloaded: "unloaded"
        case .loading: "loading"
        case .ready: "ready"
        case .draining: "draining"
        case .failed: "failed"
        }
    }
}

public struct TierStatus: Sendable, Equatable {
    public var name = ""
    public var plugin = ""
    public var model = ""
    public var state = TierState.unloaded
    public var isDefault = false
    public var isPinned = false
    public var memoryBytes: UInt64 = 0
    public var activeRequests: UInt32 = 0
    public var queuedRequests: UInt32 = 0
    public var lastError = ""
    public var context: UInt32 = 0
    public var keepAliveSeconds = 0.0
    public var idleSeconds = 0.0
    public var loadProgress: Float = 0
    /// Prefix reuse: finished sequences the tier keeps, and their KV bytes.
    public var cachedSequences: UInt32 = 0
    public var cachedBytes: UInt64 = 0
    /// The line items of `memoryBytes` (fields 20–25).
    public var memory = TierMemoryFigures()
    /// A remote tier's upstream URL (never its API key); empty when local.
    public var remoteURL = ""
    public init() {}
}

public struct StatusReply: Sendable, Equatable {
    public var pid: UInt32 = 0
    public var version = ""
    public var defaultTier = ""
    public var uptimeSeconds = 0.0
    public var configPath = ""
    public var socket = ""
    public var memoryBudget: UInt64 = 0
    public var memoryUsed: UInt64 = 0
    public var connections: UInt32 = 0
    public var tiers: [TierStatus] = []
    /// `memoryUsed` split: held now, and reserved beyond that (fields 20–21).
    public var memoryHeld: UInt64 = 0
    public var memoryReserved: UInt64 = 0
    public init() {}
}

public struct TiersReply: Sendable, Equatable {
    public var defaultTier = ""
    public var tiers: [TierStatus] = []
    public init(defaultTier: String = "", tiers: [TierStatus] = []) {
        self.defaultTier = defaultTier
        self.tiers = tiers
    }
}

public struct PluginInfo: Sendable, Equatable {
    public var name = ""
    public var path = ""
    public var version = ""
    public var isLoaded = false
    public var error = ""
    public init() {}
}

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Sampling overrides; nil fields take the tier's defaults.
public struct SamplingOverrides: Sendable, Equatable {
    public var temperature: Float?
    public var topK: UInt32?
    public var topP: Float?
    public var minP: Float?
    public var repeatPenalty: Float?
    public var repeatLastN: UInt32?
    public var seed: UInt64?
    public init() {}
}

public struct GenerateRequest: Sendable, Equatable {
    public var tier = ""
    public var prompt = ""
    public var messages: [ChatMessage] = []
    public var sampling = SamplingOverrides()
    public var stop: [String] = []
    public var maxTokens: UInt32 = 0
    /// nil: no log-probabilities; N: each token's and its N most likely alternatives'.
    public var logprobs: UInt32?
    /// nil: the tier's `context_shift`.
    public var contextShift: Bool?
    /// A JSON Schema the output must validate against (JSON text).
    public var jsonSchema: String?
    /// A GBNF grammar the output must be a sentence of.
    public var grammar: String?
    /// Prefix reuse: false neither continues a cached sequence nor keeps this one's.
    public var cachePrompt = true
    public init() {}
}

public struct GenerateChunk: Sendable, Equatable {
    public var text: String
    public var tokens: [Int32]
    /// One per token when the request asked for log-probabilities.
    public var logprobs: [TokenLogprob]
    public init(text: String, tokens: [Int32], logprobs: [TokenLogprob] = []) {
        self.text = text
        self.tokens = tokens
        self.logprobs = logprobs
    }

    /// A token's log-probability (natural log of the model's distribution,
    /// before penalties and temperature), its bytes, and on the chosen
    /// token's entry the most likely alternatives.
    public struct TokenLogprob: Sendable, Equatable {
        public var token: Int32
        public var logprob: Float
        public var piece: [UInt8]
        public var top: [TokenLogprob]
        public init(token: Int32, logprob: Float, piece: [UInt8], top: [TokenLogprob] = []) {
            self.token = token
            self.logprob = logprob
            self.piece = piece
            self.top = top
        }
    }
}

public struct GenerateSummary: Sendable, Equatable {
    public var tier = ""
    public var promptTokens: UInt32 = 0
    public var completionTokens: UInt32 = 0
    public var finishReason = ""
    public var promptSeconds = 0.0
    public var generationSeconds = 0.0
    public var queueSeconds = 0.0
    public var promptTokenIDs: [Int32] = []
    /// Times the context was shifted to make room.
    public var contextShifts: UInt32 = 0
    /// Prompt tokens taken from a cached sequence instead of evaluated.
    public var cachedPromptTokens: UInt32 = 0
    public init() {}
}

public struct TokenizeRequest: Sendable, Equatable {
    public var tier = ""
    public var text = ""
    public var addSpecial = true
    public var parseSpecial = false
    public init() {}
}

public struct TokenizeReply: Sendable, Equatable {
    public var tokens: [Int32] = []
    public var pieces: [[UInt8]] = []
    public init(tokens: [Int32] = [], pieces: [[UInt8]] = []) {
        self.tokens = tokens
        self.pieces = pieces
    }
}

public struct TierStats: Sendable, Equatable {
    public var name = ""
    public var requests: UInt64 = 0
    public var failedRequests: UInt64 = 0
    public var promptTokens: UInt64 = 0
    public var completionTokens: UInt64 = 0
    public var generationSeconds = 0.0
    public var layers: UInt32 = 0
    public var experts: UInt32 = 0
    public var expertCounts: [UInt64] = []
    /// Per layer: mean entropy (nats) of the router's distribution per token.
    public var routingEntropy: [Double] = []
    /// Prompt tokens taken from cached sequences, and the requests that continued one.
    public var cachedPromptTokens: UInt64 = 0
    public var prefixCacheHits: UInt64 = 0
    /// Request arrival to first generated token.
    public var firstToken = LatencyHistogram()
    /// Between consecutive generated tokens of one request.
    public var tokenLatency = LatencyHistogram()
    public var loads: UInt64 = 0
    public var evictions: UInt64 = 0
    public var loadFailures: UInt64 = 0
    /// Memory counters (fields 20–22): peak KV held, refusals, evictions.
    public var kvCachePeakBytes: UInt64 = 0
    public var memoryRefusals: UInt64 = 0
    public init() {}

    /// Completion tokens per second of generation time.
    public var tokensPerSecond: Double {
        generationSeconds > 0 ? Double(completionTokens) / generationSeconds : 0
    }
}

public struct ReloadReply: Sendable, Equatable {
    public var configPath = ""
    public var tiers: [String] = []
    public var defaultTier = ""
    public init() {}
}

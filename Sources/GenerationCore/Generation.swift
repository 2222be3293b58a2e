/// What a caller asks of one generation. The defaults here are the only
/// ones: the daemon's tiers start from them and `moectl run` uses them.
public struct GenerationOptions: Sendable, Equatable {
    public static let defaultMaxTokens = 256

    public var sampling = SamplingParameters()
    /// Most tokens to generate.
    public var maxTokens = GenerationOptions.defaultMaxTokens
    /// Generation ends before the first of these strings; it is not returned.
    public var stopStrings: [String] = []
    /// nil: no log-probabilities; N: the chosen token's and the N most
    /// likely alternatives' (N ≤ GenerationLimits.maxTopLogprobs).
    public var logprobs: Int?
    /// When the context is full: false ends with `contextFull`; true drops
    /// the older half of the tokens after the kept prefix and goes on.
    public var contextShift = false
    /// nil: free text; else the schema or grammar the output follows.
    public var structuredOutput: StructuredOutput?

    public init(sampling: SamplingParameters = SamplingParameters(), maxTokens: Int = GenerationOptions.defaultMaxTokens,
                stopStrings: [String] = [], logprobs: Int? = nil, contextShift: Bool = false) {
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.logprobs = logprobs
        self.contextShift = contextShift
    }
}

/// Why a generation ended; the raw values are the protocol's and the
/// JSON's `finish_reason` strings.
public enum FinishReason: String, Sendable, Codable {
    /// The model produced an end-of-generation token.
    case endOfGeneration = "stop"
    /// A stop string appeared.
    case stopString = "stop_string"
    /// `maxTokens` were generated.
    case length
    /// The context is full (and context shift is off, or cannot free room).
    case contextFull = "context_full"
    /// The caller stopped reading.
    case cancelled
}

public struct GenerationTimings: Sendable, Equatable, Codable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    /// Time of the decode steps (one token each) after the prompt.
    public var generationSeconds = 0.0
    public var decodeSteps = 0

    public init() {}

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double { generationSeconds > 0 ? Double(decodeSteps) / generationSeconds : 0 }
}

public struct GenerationResult: Sendable, Equatable {
    public var promptTokens: [Int32]
    public var tokens: [Int32]
    public var text: String
    public var finishReason: FinishReason
    public var timings: GenerationTimings
    /// One per generated token when asked for, else empty.
    public var logprobs: [TokenLogprob] = []
    /// How often the context was shifted to make room.
    public var contextShifts = 0

    public init(promptTokens: [Int32], tokens: [Int32], text: String, finishReason: FinishReason,
                timings: GenerationTimings, logprobs: [TokenLogprob] = [], contextShifts: Int = 0) {
        self.promptTokens = promptTokens
        self.tokens = tokens
        self.text = text
        self.finishReason = finishReason
        self.timings = timings
        self.logprobs = logprobs
        self.contextShifts = contextShifts
    }
}

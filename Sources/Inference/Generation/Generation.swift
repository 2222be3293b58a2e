/// What a caller asks of one generation.
public struct GenerationOptions: Sendable, Equatable {
    public var sampling = SamplingParameters()
    /// Most tokens to generate.
    public var maxTokens = 256
    /// Generation ends before the first of these strings; it is not returned.
    public var stopStrings: [String] = []

    public init(sampling: SamplingParameters = SamplingParameters(), maxTokens: Int = 256, stopStrings: [String] = []) {
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
    }
}

public enum FinishReason: String, Sendable, Codable {
    /// The model produced an end-of-generation token.
    case endOfGeneration = "stop"
    /// A stop string appeared.
    case stopString = "stop_string"
    /// `maxTokens` were generated.
    case length
    /// The context is full.
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

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double { generationSeconds > 0 ? Double(decodeSteps) / generationSeconds : 0 }
}

public struct GenerationResult: Sendable, Equatable {
    public var promptTokens: [Int32]
    public var tokens: [Int32]
    public var text: String
    public var finishReason: FinishReason
    public var timings: GenerationTimings
}

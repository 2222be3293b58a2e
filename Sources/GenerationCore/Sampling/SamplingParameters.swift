/// How the next token is chosen from the logits.
///
/// These are moed's one set of sampling defaults: `moectl run`, a tier
/// with no sampling keys and a request that names nothing all use them, so
/// the same prompt gives the same tokens in-process and through the daemon.
/// They are llama.cpp's defaults (llama-cli, llama-server), except the
/// seed, which is fixed rather than random so an unseeded request repeats
/// (a tier's `seed = "random"` or a client's own seed varies it).
/// docs/configuration.md lists them.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// 0 (or less) means greedy: always the most likely token.
    public var temperature: Float = 0.8
    /// Keep only the k most likely tokens; 0 disables.
    public var topK: Int = 40
    /// Keep the smallest set whose probability reaches p; 1 disables.
    public var topP: Float = 0.95
    /// Drop tokens less likely than minP × the most likely one; 0 disables.
    public var minP: Float = 0.05
    /// Divide positive logits (multiply negative ones) of recently seen tokens; 1 disables.
    public var repetitionPenalty: Float = 1.0
    /// How many recent tokens the repetition penalty looks at.
    public var repetitionWindow: Int = 64
    /// Same seed, same output.
    public var seed: UInt64 = 0

    public init() {}

    public static let greedy: SamplingParameters = {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }()

    public var isGreedy: Bool { temperature <= 0 }
}

/// The ranges every generation setting must fall in, wherever it comes
/// from: a tier's defaults in the config file or a client's request. Both
/// readers call these checks, so a value the config refuses a request
/// cannot slip in, and the messages read the same. docs/configuration.md
/// and docs/protocol.md list them.
public enum GenerationLimits {
    public static let temperature: ClosedRange<Float> = 0...100
    public static let topK: ClosedRange<Int> = 0...1_000_000
    public static let topP: ClosedRange<Float> = 0...1
    public static let minP: ClosedRange<Float> = 0...1
    /// 0 would divide logits by zero; 1 is off.
    public static let repeatPenalty: ClosedRange<Float> = 0.01...100
    public static let repeatLastN: ClosedRange<Int> = 0...1_000_000
    public static let maxTokens: ClosedRange<Int> = 1...1_000_000
    /// Alternatives per token a request may ask log-probabilities of
    /// (OpenAI's limit too).
    public static let topLogprobs: ClosedRange<Int> = 0...20

    /// Stop strings per request or tier. OpenAI accepts 4; llama-server and
    /// Ollama set no limit, but real lists are a handful of short markers.
    public static let maxStopStrings = 64
    /// All stop strings together, in UTF-8 bytes; also bounds the text a
    /// stream holds back while a stop string may be starting.
    public static let maxStopBytes = 4096

    /// Why `value` is not allowed in `range`, or nil when it is.
    public static func problem<Value: Comparable>(with value: Value, in range: ClosedRange<Value>) -> String? {
        range.contains(value) ? nil : "\(value) is outside \(range.lowerBound)...\(range.upperBound)"
    }

    /// Floats add NaN and the infinities, which no range contains.
    public static func problem(with value: Float, in range: ClosedRange<Float>) -> String? {
        guard value.isFinite else { return "\(value) is not a finite number" }
        return range.contains(value) ? nil : "\(value) is outside \(range.lowerBound)...\(range.upperBound)"
    }

    /// Why these stop strings are too many or too long, or nil.
    public static func problem(withStops stops: [String]) -> String? {
        if stops.count > maxStopStrings {
            return "\(stops.count) stop strings, more than the limit of \(maxStopStrings)"
        }
        let bytes = stops.reduce(0) { $0 + $1.utf8.count }
        if bytes > maxStopBytes {
            return "stop strings total \(bytes) bytes, more than the limit of \(maxStopBytes)"
        }
        return nil
    }
}

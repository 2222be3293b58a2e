/// The rules that end a generation and shape its text, applied to each
/// sampled token in order: an end-of-generation token ends it (and is not
/// counted or shown); otherwise the token counts, its bytes go through
/// the UTF-8 hold-back and the stop strings, and `maxTokens` ends it.
/// `moectl run` and the daemon both feed every sampled token here, so
/// they end at the same token with the same text and reason.
public struct GenerationRules: Sendable {
    public let maxTokens: Int
    /// The tokenizer's whole end-of-generation set (eos, eot, eom and the
    /// control tokens it names, e.g. SmolLM2's `<|endoftext|>`).
    public let endOfGeneration: Set<Int32>
    private var text: TextStream
    /// Tokens accepted so far (end-of-generation tokens are not).
    public private(set) var tokenCount = 0
    public private(set) var finishReason: FinishReason?

    public init(options: GenerationOptions, endOfGeneration: Set<Int32>) {
        maxTokens = options.maxTokens
        self.endOfGeneration = endOfGeneration
        text = TextStream(stops: options.stopStrings)
    }

    /// What one sampled token gives: text to show now (may be empty),
    /// whether the token is part of the output, and the finish reason if
    /// the generation ends with it.
    public struct Step: Sendable, Equatable {
        public var text: String
        public var isOutput: Bool
        public var finish: FinishReason?
    }

    /// Applies the rules to a sampled token whose piece is `bytes`.
    public mutating func accept(_ token: Int32, bytes: [UInt8]) -> Step {
        guard finishReason == nil else { return Step(text: "", isOutput: false, finish: finishReason) }
        if endOfGeneration.contains(token) {
            return end(.endOfGeneration, text: "", isOutput: false)
        }
        tokenCount += 1
        let (shown, stopped) = text.feed(bytes)
        if stopped { return end(.stopString, text: shown, isOutput: true) }
        if tokenCount >= maxTokens { return end(.length, text: shown, isOutput: true) }
        return Step(text: shown, isOutput: true, finish: nil)
    }

    /// Ends for a reason outside the tokens (context full, cancelled);
    /// returns the text still held.
    public mutating func end(_ reason: FinishReason) -> String {
        guard finishReason == nil else { return "" }
        return end(reason, text: "", isOutput: false).text
    }

    /// Whether a token would end the generation without being shown: the
    /// worker uses this to stop stepping before the loop has seen it.
    public static func endsAt(_ token: Int32, tokenCount: Int, maxTokens: Int, endOfGeneration: Set<Int32>) -> Bool {
        endOfGeneration.contains(token) || tokenCount >= maxTokens
    }

    private mutating func end(_ reason: FinishReason, text shown: String, isOutput: Bool) -> Step {
        finishReason = reason
        // What a stop string or a cancel cut off is dropped; anything else
        // still held (half a character, a possible stop string's start) is
        // shown with the last token.
        let tail = reason == .stopString || reason == .cancelled ? "" : text.finish()
        return Step(text: shown + tail, isOutput: isOutput, finish: reason)
    }
}

/// What to do when a sequence's next tokens would not fit its context:
/// end with `contextFull`, or shift as llama.cpp does — keep the first
/// `keep` tokens (BOS, the system prompt), drop half of the rest (the
/// oldest), and go on with the shortened context. The engine recomputes
/// the kept tokens at their new positions (no re-roping of cached keys),
/// which costs one prefill of about half a context per shift.
public struct ContextWindow: Sendable, Equatable {
    public let length: Int
    public let shifts: Bool

    public init(length: Int, shifts: Bool) {
        self.length = length
        self.shifts = shifts
    }

    public enum Decision: Sendable, Equatable {
        case fits
        case full
        /// Keep `tokens` (the kept prefix, then the newer half), evaluated
        /// afresh from position 0.
        case shift(tokens: [Int32])
    }

    /// `context`: the tokens evaluated so far; `adding`: how many the next
    /// step evaluates; `keep`: the prefix no shift drops.
    public func decide(context: [Int32], adding: Int, keep: Int) -> Decision {
        guard context.count + adding > length else { return .fits }
        guard shifts else { return .full }
        let kept = min(keep, context.count)
        let discard = (context.count - kept) / 2
        let shifted = Array(context[..<kept] + context[(kept + discard)...])
        guard discard > 0, shifted.count + adding <= length else { return .full }
        return .shift(tokens: shifted)
    }

    /// The prefix a shift keeps: the tokens a prompt shares with its system
    /// part (the chat rendered with only the system message), or the BOS
    /// alone when there is no system message.
    public static func keepCount(prompt: [Int32], systemPart: [Int32]?, bos: Int32?) -> Int {
        if let systemPart {
            return zip(prompt, systemPart).prefix { $0 == $1 }.count
        }
        return bos != nil && prompt.first == bos ? 1 : 0
    }
}

/// Watches generated text for stop strings. Text that might be the start of
/// a stop string is held back until it is clearly not, so a streaming client
/// never sees a stop string or a piece of one.
public struct StopStringFilter: Sendable {
    public let stops: [String]
    private var held = ""

    public init(_ stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// The outcome of feeding text: what may be shown now, and whether a stop
    /// string was reached (everything from it on is dropped).
    public struct Step: Sendable, Equatable {
        public var text: String
        public var stopped: Bool
    }

    public mutating func feed(_ text: String) -> Step {
        guard !stops.isEmpty else { return Step(text: text, stopped: false) }
        held += text
        if let cut = earliestStop() {
            let shown = String(held[..<cut])
            held = ""
            return Step(text: shown, stopped: true)
        }
        // Hold back the longest tail that is a prefix of some stop string.
        let keep = longestTailThatStartsAStop()
        let shownEnd = held.index(held.endIndex, offsetBy: -keep)
        let shown = String(held[..<shownEnd])
        held = String(held[shownEnd...])
        return Step(text: shown, stopped: false)
    }

    /// Whatever is still held once generation ends for another reason.
    public mutating func finish() -> String {
        defer { held = "" }
        return held
    }

    private func earliestStop() -> String.Index? {
        stops.compactMap { held.firstOccurrence(of: $0)?.lowerBound }.min()
    }

    private func longestTailThatStartsAStop() -> Int {
        let characters = Array(held)
        var best = 0
        for stop in stops {
            let s = Array(stop)
            for length in stride(from: min(s.count - 1, characters.count), to: best, by: -1)
            where Array(characters.suffix(length)) == Array(s.prefix(length)) {
                best = length
                break
            }
        }
        return best
    }
}

private extension String {
    func firstOccurrence(of needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}

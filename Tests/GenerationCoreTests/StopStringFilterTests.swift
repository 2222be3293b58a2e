import Testing
import GenerationCore

/// Incremental matching: stop strings split over many feeds, overlapping
/// stop strings, multi-byte UTF-8, and how much text is ever held back.
@Suite("Stop strings, incremental")
struct StopStringFilterTests {
    /// Feeds `pieces` until a stop; returns what was shown and whether it stopped.
    static func run(_ stops: [String], _ pieces: [String]) -> (shown: String, stopped: Bool) {
        var filter = StopStringFilter(stops)
        var shown = ""
        for piece in pieces {
            let step = filter.feed(piece)
            shown += step.text
            if step.stopped { return (shown, true) }
        }
        return (shown + filter.finish(), false)
    }

    static func characters(_ text: String) -> [String] { text.map(String.init) }

    @Test("a stop string split over one feed per character is found; nothing of it is shown")
    func splitOverManyFeeds() {
        let stop = "<|im_end|>"
        let result = Self.run([stop, "\n\nUser:"], Self.characters("The answer is 42.<|im_end|> and more"))
        #expect(result == ("The answer is 42.", true))
    }

    @Test("a multi-byte stop string split over feeds stops; text before it is whole characters", arguments: [
        (["✓fin✓"], "café ✓ déjà ✓fin✓ après", "café ✓ déjà "),
        (["🙂🙂"], "a🙂b🙂🙂c", "a🙂b"),
        (["日本語"], "日本人と日本語です", "日本人と"),
    ] as [([String], String, String)])
    func multiByte(stops: [String], text: String, before: String) {
        #expect(Self.run(stops, Self.characters(text)) == (before, true))
        #expect(Self.run(stops, [text]) == (before, true))
    }

    @Test("a prefix that falls back onto a shorter start of the stop still matches (aab in aaab, bcd in abcd)")
    func fallsBack() {
        #expect(Self.run(["aab"], Self.characters("xaaab!")) == ("xa", true))
        // In "abc" (a start of "abcx") a "d" falls back to "bc", the start of "bcd".
        #expect(Self.run(["abcx", "bcd"], Self.characters("abcd!")) == ("a", true))
    }

    @Test("of stop strings completed by the same feed, the one starting first wins")
    func earliestStartInOneFeed() {
        #expect(Self.run(["abcde", "cd"], ["abcde"]) == ("", true))
        // Fed one at a time, "cd" completes first, as a streaming client would see it.
        #expect(Self.run(["abcde", "cd"], Self.characters("abcde")) == ("ab", true))
    }

    @Test("text that only looks like a stop string is released, all of it, in order")
    func released() {
        let text = "END? ENDING? EN"
        #expect(Self.run(["ENDX"], Self.characters(text)) == (text, false))
    }

    @Test("no more than the longest stop string minus one byte is ever held back")
    func holdBackBound() {
        let stops = ["aaaaaaab", "ä€"]
        var filter = StopStringFilter(stops)
        var fed = 0
        var shown = 0
        for piece in Array(repeating: "a", count: 100) + ["ä", "ä", "€"] {
            let step = filter.feed(piece)
            fed += piece.utf8.count
            shown += step.text.utf8.count
            #expect(!step.stopped || piece == "€")
            if !step.stopped { #expect(fed - shown <= 7, "held \(fed - shown) bytes after \(fed)") }
        }
    }

    @Test("decomposed and precomposed characters are different bytes, so é does not stop on e")
    func bytesNotGraphemes() {
        #expect(Self.run(["e"], ["caf\u{E9}"]) == ("caf\u{E9}", false))
        #expect(Self.run(["\u{E9}"], ["cafe\u{301}"]) == ("cafe\u{301}", false))
    }
}

import Testing
@testable import GenerationCore

@Suite("Text streaming: UTF-8 hold-back and stop strings")
struct TextStreamTests {
    @Test("UTF-8 characters split across tokens come out whole")
    func utf8() {
        var stream = TextStream(stops: [])
        let bytes = Array("é✓🙂".utf8)
        var shown = ""
        for byte in bytes { shown += stream.feed([byte]).text }
        shown += stream.finish()
        #expect(shown == "é✓🙂")
        var partial = TextStream(stops: [])
        #expect(partial.feed(Array(bytes.prefix(3))).text == "é")
    }

    @Test("stop strings are cut even when split across tokens")
    func stops() {
        var stream = TextStream(stops: ["END"])
        var shown = ""
        var stopped = false
        for piece in ["hello E", "N", "D more"] where !stopped {
            let step = stream.feed(Array(piece.utf8))
            shown += step.text
            stopped = step.stopped
        }
        #expect(stopped)
        #expect(shown == "hello ")
    }
}

extension TextStreamTests {
    @Test("a NUL byte is shown as U+FFFD, as the protocol's C strings cannot carry it")
    func nulByte() {
        var stream = TextStream(stops: [])
        #expect(stream.feed([0x61, 0, 0x62]).text == "a\u{FFFD}b")
    }
}

extension TextStreamTests {
    @Test("complete-prefix length holds back only a valid unfinished sequence", arguments: [
        ([0x61, 0xF0, 0x9F, 0x99], 1),   // "a" + 3 of 4 bytes of 🙂
        ([0x61, 0xF0, 0x9F, 0x99, 0x82], 5),
        ([0x61, 0xE0, 0x80], 3),         // E0 80 can never be valid: emit (as U+FFFD)
        ([0xC3], 0),
        ([0x80], 1),                     // a stray continuation byte is let through at once
    ])
    func completePrefix(bytes: [UInt8], expected: Int) {
        #expect(TextStream.completePrefixLength(bytes) == expected)
    }

    @Test("an unfinished character at the end becomes U+FFFD")
    func unfinishedAtEnd() {
        var stream = TextStream(stops: [])
        #expect(stream.feed([0xC3]).text == "")
        #expect(stream.finish() == "\u{FFFD}")
    }
}

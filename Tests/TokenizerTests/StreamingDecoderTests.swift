// The streaming decoder must never emit half a UTF-8 character.

import Testing
@testable import Tokenizer

@Suite("Streaming decoder")
struct StreamingDecoderTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(vocabulary: TestVocabularies.sentencePiece())
    }

    @Test("a character split over two byte tokens waits for its second half")
    func splitCharacter() {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(15) == "")       // 0xC3: first byte of é
        #expect(decoder.append(16) == "é")      // 0xA9 completes it
        #expect(decoder.finish() == "")
    }

    @Test("an unfinished character at the end becomes U+FFFD")
    func unfinishedAtEnd() {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(15) == "")
        #expect(decoder.finish() == "\u{FFFD}")
    }

    @Test("a stray continuation byte cannot become valid, so it is replaced at once")
    func strayContinuation() {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(16) == "\u{FFFD}")
    }

    @Test("streamed text equals decode, leading space rule included")
    func matchesDecode() {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        let tokens: [Int32] = [10, 6, 13, 3, 15, 16]
        let streamed = tokens.map { decoder.append($0) }.joined() + decoder.finish()
        #expect(streamed == tokenizer.decode(tokens))
        #expect(streamed == "hello é")
    }

    @Test("complete-prefix length holds back only a valid unfinished sequence", arguments: [
        ([0x61, 0xF0, 0x9F, 0x99], 1),   // "a" + 3 of 4 bytes of 🙂
        ([0x61, 0xF0, 0x9F, 0x99, 0x82], 5),
        ([0x61, 0xE0, 0x80], 3),         // E0 80 can never be valid: emit (as U+FFFD)
        ([0xC3], 0),
    ])
    func completePrefix(bytes: [UInt8], expected: Int) {
        #expect(StreamingDecoder.completePrefixLength(bytes) == expected)
    }
}

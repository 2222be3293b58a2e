// SentencePiece on a hand-made vocabulary; merges chosen by score by hand.

import Testing
@testable import Tokenizer

@Suite("SentencePiece")
struct SentencePieceTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(vocabulary: TestVocabularies.sentencePiece())
    }

    @Test("highest score merges first: 'lo' (-0.5) takes the o before 'll' or '▁hello' can form")
    func scoreOrder() {
        // "▁hello": lo (-0.5), then ▁h (-2), ll is stale, then ▁he (-4) → ▁he l lo.
        #expect(tokenizer.encode("hello") == [1, 10, 6, 13])
        #expect(tokenizer.encode("hello", addSpecial: false) == [10, 6, 13])
    }

    @Test("characters without a token fall back to <0xXX> bytes, then to <unk>")
    func byteFallback() {
        #expect(tokenizer.encode("!", addSpecial: false) == [3, 14])
        #expect(tokenizer.encode("é", addSpecial: false) == [3, 15, 16])
        #expect(tokenizer.encode("x", addSpecial: false) == [3, 0])
    }

    @Test("the space prefix is added after each special token and can be turned off")
    func spacePrefix() throws {
        #expect(tokenizer.encode("<s>hello", addSpecial: false, parseSpecial: true) == [1, 10, 6, 13])
        let noPrefix = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
        #expect(noPrefix.encode("lo", addSpecial: false) == [13])
    }

    @Test("decoding turns ▁ into spaces and drops the first token's leading space")
    func decoding() {
        #expect(tokenizer.piece(10) == Array(" he".utf8))
        #expect(tokenizer.decode([10, 6, 13]) == "hello")
        // As llama_detokenize: only the very first token is stripped, even if it renders empty.
        #expect(tokenizer.decode([1, 10, 6, 13]) == " hello")
        #expect(tokenizer.decode([3, 15, 16]) == "é")
        #expect(tokenizer.piece(1) == [])
        #expect(tokenizer.piece(1, special: true) == Array("<s>".utf8))
        #expect(tokenizer.decode([1, 10], renderSpecial: true) == "<s> he")
    }
}

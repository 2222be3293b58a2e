// Byte-level BPE on a hand-made vocabulary; expected tokens worked out by
// applying the merges in rank order by hand.

import Testing
@testable import Tokenizer

@Suite("Byte-level BPE")
struct BytePairEncodingTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(vocabulary: TestVocabularies.bytePair())
    }

    @Test("merges apply lowest rank first: ' hell' becomes Ġ + hell, not Ġh + ...")
    func mergeOrder() {
        // "hello": h e → he (0), l l → ll (1), he ll → hell (2), hell o → hello (4).
        // " hell": h e (0) beats Ġ h (3), so Ġ stays alone.
        #expect(tokenizer.encode("hello hell", addSpecial: false) == [8, 4, 7])
    }

    @Test("bytes with no token are dropped, as llama.cpp does")
    func unknownBytesDropped() {
        #expect(tokenizer.encode("hex", addSpecial: false) == [5])
    }

    @Test("llama3 takes a word that is itself a token without merging")
    func ignoreMerges() throws {
        let gpt2 = tokenizer.encode("lo", addSpecial: false)
        let llama3 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama-bpe"))
        #expect(gpt2 == [2, 3])
        #expect(llama3.encode("lo", addSpecial: false) == [12])
    }

    @Test("BOS and EOS follow the flags; llama3 adds BOS by default, gpt-2 does not")
    func specialFlags() throws {
        #expect(tokenizer.encode("hello") == [8])
        let both = try Tokenizer(vocabulary: TestVocabularies.bytePair(addBOS: true, addEOS: true))
        #expect(both.encode("hello") == [10, 8, 10])
        #expect(both.encode("hello", addSpecial: false) == [8])
        let llama3 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama-bpe"))
        #expect(llama3.encode("hello") == [10, 8])
    }

    @Test("pieces undo the byte-level mapping; decode joins them")
    func pieces() {
        #expect(tokenizer.piece(4) == [0x20])
        #expect(tokenizer.piece(8) == Array("hello".utf8))
        #expect(tokenizer.decode([8, 4, 7]) == "hello hell")
    }

    @Test("missing merges and duplicate tokens are rejected")
    func hostileVocabulary() {
        var noMerges = TestVocabularies.bytePair()
        noMerges.merges = []
        #expect(throws: TokenizerError(.missingMerges)) { try Tokenizer(vocabulary: noMerges) }
        var duplicate = TestVocabularies.bytePair()
        duplicate.tokens[1] = "h"
        #expect(throws: TokenizerError(.duplicateToken("h", first: 0, second: 1))) {
            try Tokenizer(vocabulary: duplicate)
        }
        var shortTypes = TestVocabularies.bytePair()
        shortTypes.tokenTypes.removeLast()
        #expect(throws: TokenizerError.self) { try Tokenizer(vocabulary: shortTypes) }
    }
}

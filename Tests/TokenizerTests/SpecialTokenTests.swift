// Special-token text in the input, and the end-of-generation set.

import Testing
@testable import Tokenizer

@Suite("Special tokens")
struct SpecialTokenTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(vocabulary: TestVocabularies.bytePair())
    }

    @Test("control-token text is a token only when parseSpecial is on")
    func controlTokens() {
        #expect(tokenizer.encode("hello<|endoftext|>", addSpecial: false, parseSpecial: true) == [8, 10])
        let plain = tokenizer.encode("hello<|endoftext|>", addSpecial: false, parseSpecial: false)
        #expect(plain.first == 8)
        #expect(!plain.contains(10))
    }

    @Test("user-defined tokens are recognised even without parseSpecial")
    func userDefined() {
        #expect(tokenizer.encode("<|user|>hello", addSpecial: false, parseSpecial: false) == [11, 8])
    }

    @Test("the longest special token is cut out first")
    func longestFirst() {
        #expect(tokenizer.encode("<x><x><x>", addSpecial: false, parseSpecial: true) == [14, 13])
    }

    @Test("eos and tokens named like <|im_end|> end generation; the latter become control tokens")
    func endOfGeneration() {
        #expect(tokenizer.isEndOfGeneration(10))
        #expect(tokenizer.isEndOfGeneration(15))
        #expect(!tokenizer.isEndOfGeneration(8))
        #expect(tokenizer.type(of: 15) == .control)
        #expect(tokenizer.piece(15) == [])
    }

    @Test("an eot id from the file joins the end-of-generation set")
    func explicitEOT() throws {
        var vocabulary = TestVocabularies.bytePair()
        vocabulary.eot = 13
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(tokenizer.eot == 13)
        #expect(tokenizer.isEndOfGeneration(13))
    }

    @Test("fill-in-the-middle repo and file-separator tokens found by name end generation")
    func fillInTheMiddle() throws {
        let vocabulary = Vocabulary(model: .bytePairEncoding, preTokenizer: "smollm",
                                    tokens: ["a", "aa", "<reponame>", "<|file_sep|>", "<|fim_pad|>"],
                                    merges: ["a a"], fimPad: 1)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(tokenizer.endOfGenerationTokens == [1, 2, 3])
        #expect(tokenizer.type(of: 2) == .control)
        #expect(tokenizer.type(of: 1) == .normal)  // an id from the file keeps its type
    }

    @Test("asking for BOS without a BOS id is an error")
    func missingBOS() {
        var vocabulary = TestVocabularies.bytePair(addBOS: true)
        vocabulary.bos = nil
        #expect(throws: TokenizerError(.missingBOS)) { try Tokenizer(vocabulary: vocabulary) }
    }
}

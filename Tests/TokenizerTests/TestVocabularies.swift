// Tiny vocabularies made in code for the encoder tests.

@testable import Tokenizer

enum TestVocabularies {
    /// Byte-level BPE: "Ġ" is the byte-level spelling of a space.
    static func bytePair(pre: String = "gpt-2", addBOS: Bool? = nil, addEOS: Bool? = nil) -> Vocabulary {
        Vocabulary(
            model: .bytePairEncoding, preTokenizer: pre,
            tokens: ["h", "e", "l", "o", "Ġ", "he", "ll", "hell", "hello", "Ġh",
                     "<|endoftext|>", "<|user|>", "lo", "<x>", "<x><x>", "<|im_end|>"],
            tokenTypes: [.normal, .normal, .normal, .normal, .normal, .normal, .normal, .normal, .normal, .normal,
                         .control, .userDefined, .normal, .control, .control, .normal],
            merges: ["h e", "l l", "he ll", "Ġ h", "hell o"],
            bos: 10, eos: 10, addBOS: addBOS, addEOS: addEOS)
    }

    /// SentencePiece: "▁" spells a space; scores decide the merge order.
    static func sentencePiece(addSpacePrefix: Bool? = nil) -> Vocabulary {
        let entries: [(String, Float, TokenType)] = [
            ("<unk>", 0, .unknown), ("<s>", 0, .control), ("</s>", 0, .control),
            ("▁", -1, .normal), ("h", -1, .normal), ("e", -1, .normal), ("l", -1, .normal), ("o", -1, .normal),
            ("▁h", -2, .normal), ("ll", -3, .normal), ("▁he", -4, .normal), ("▁hell", -5, .normal),
            ("▁hello", -6, .normal), ("lo", -0.5, .normal),
            ("<0x21>", 0, .byte), ("<0xC3>", 0, .byte), ("<0xA9>", 0, .byte),
        ]
        return Vocabulary(
            model: .sentencePiece, tokens: entries.map(\.0), scores: entries.map(\.1),
            tokenTypes: entries.map(\.2), bos: 1, eos: 2, unknown: 0, addSpacePrefix: addSpacePrefix)
    }
}

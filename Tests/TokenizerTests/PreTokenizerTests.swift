// Splitting tables per pre-tokenizer. Each expected split was worked out by
// hand from the regex the pre-tokenizer implements (see SplitStage).

import Testing
@testable import Tokenizer

private func split(_ name: String?, _ text: String) throws -> [String] {
    let scalars = Array(text.unicodeScalars)
    let classified = ClassifiedText(scalars)
    return try PreTokenizer(named: name).split(classified).map { range in
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[range])
        return String(view)
    }
}

@Suite("Pre-tokenizers")
struct PreTokenizerTests {
    @Test("llama3 splits contractions case-insensitively, digits in threes, keeps one space before words",
          arguments: [
            ("I'm 12345 ok", ["I", "'m", " ", "123", "45", " ok"]),
            ("DON'T", ["DON", "'T"]),
            ("Hello  world", ["Hello", " ", " world"]),
            ("a\n\nb", ["a", "\n\n", "b"]),
            ("x  \n y", ["x", "  \n", " y"]),
            ("hi!!\n\nok", ["hi", "!!\n\n", "ok"]),
            ("  end  ", [" ", " end", "  "]),
            ("a 🙂!", ["a", " 🙂!"]),
            ("café 日本", ["café", " 日本"]),
          ])
    func llama3(text: String, expected: [String]) throws {
        #expect(try split("llama-bpe", text) == expected)
    }

    @Test("gpt-2 keeps digit runs whole and contractions lowercase only", arguments: [
        ("I'm 12345 ok", ["I", "'m", " 12345", " ok"]),
        ("DON'T", ["DON", "'", "T"]),
        ("Hello  world", ["Hello", " ", " world"]),
        ("a\n\nb", ["a", "\n", "\n", "b"]),
        ("hi!! 42abc", ["hi", "!!", " 42", "abc"]),
        ("end  ", ["end", "  "]),
    ])
    func gpt2(text: String, expected: [String]) throws {
        #expect(try split("gpt-2", text) == expected)
    }

    @Test("smollm isolates every digit before the GPT-2 rules", arguments: [
        ("I'm 12345 ok", ["I", "'m", " ", "1", "2", "3", "4", "5", " ok"]),
        ("a  1", ["a", "  ", "1"]),
        ("x1y", ["x", "1", "y"]),
    ])
    func smollm(text: String, expected: [String]) throws {
        #expect(try split("smollm", text) == expected)
    }

    @Test("qwen2 is llama3 with single digits", arguments: [
        ("I'm 12345 ok", ["I", "'m", " ", "1", "2", "3", "4", "5", " ok"]),
        ("abc123def", ["abc", "1", "2", "3", "def"]),
    ])
    func qwen2(text: String, expected: [String]) throws {
        #expect(try split("qwen2", text) == expected)
    }

    @Test("default isolates punctuation, then GPT-2, then numbers, then digit triples")
    func defaultPreTokenizer() throws {
        let expected = ["Hello", ",", " world", "!", " ", "123", "4"]
        #expect(try split(nil, "Hello, world! 1234") == expected)
        #expect(try split("default", "Hello, world! 1234") == expected)
    }

    @Test("a combining mark is not a letter, so it splits a word under GPT-2")
    func combiningMark() throws {
        let pieces = try split("gpt-2", "e\u{301}x")
        #expect(pieces.map { Array($0.unicodeScalars) } == [["e"], ["\u{301}"], ["x"]])
    }

    @Test("an unknown pre-tokenizer name is an error naming it")
    func unknownName() {
        #expect(throws: TokenizerError(.unknownPreTokenizer("no-such-pre"))) {
            try PreTokenizer(named: "no-such-pre")
        }
    }
}

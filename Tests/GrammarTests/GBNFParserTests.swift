import Testing
@testable import Grammar

@Suite("GBNF parsing")
struct GBNFParserTests {
    @Test("literals, classes, groups and repetitions match what they say")
    func basics() throws {
        let g = try Grammar(gbnf: """
            root ::= greeting " " name{1,3} tail?  # a comment
            greeting ::= "hi" | "hello"
            name ::= [A-Z] [a-z]*
            tail ::= ("!" | ".")+
            """)
        #expect(grammarMatches(g, "hi Ann"))
        #expect(grammarMatches(g, "hello AnnBobCy!!."))
        #expect(!grammarMatches(g, "hello AnnBobCyDan"))
        #expect(!grammarMatches(g, "hi ann"))
        #expect(!grammarMatches(g, "hi "))
    }

    @Test("negated classes, escapes and any-character")
    func classes() throws {
        let g = try Grammar(gbnf: #"root ::= "\"" [^"\\\n]* "\"" . "\x41" "\u00e9""#)
        #expect(grammarMatches(g, "\"abc\"zAé"))
        #expect(grammarMatches(g, "\"\"日Aé"))
        #expect(!grammarMatches(g, "\"a\"b\"zAé"))
    }

    @Test("rules may continue over lines inside parentheses and after ::= and |")
    func multiline() throws {
        let g = try Grammar(gbnf: """
            root ::=
              "a" (
                "b" |
                "c"
              ) "d"
            """)
        #expect(grammarMatches(g, "abd"))
        #expect(grammarMatches(g, "acd"))
        #expect(!grammarMatches(g, "ad"))
    }

    @Test("bad grammars are refused with what is wrong and where", arguments: [
        ("root ::= \"abc", "unterminated string literal"),
        ("root ::= [a-", "unterminated character class"),
        ("root ::= a", "never defines"),
        ("start ::= \"x\"", "no rule 'root'"),
        ("root ::= root \"x\" | \"y\"", "left recursion"),
        ("root ::= x* \nx ::= \"a\"?", "left recursion"),
        ("root ::= \"a\"{3,2}", "maximum below its minimum"),
        ("root ::= \"a\"{5000}", "above 1000"),
        ("root ::= (\"a\"", "expected ')'"),
        ("root \"a\"", "expected '::='"),
        ("root ::= \"\\q\"", "unknown escape"),
        ("root ::= [z-a]", "reversed"),
    ])
    func refusals(source: String, expected: String) throws {
        let error = #expect(throws: GrammarError.self) { try Grammar(gbnf: source) }
        let message = try #require(error).description
        #expect(message.contains(expected), "\(message)")
    }

    @Test("a syntax error names its line and column")
    func location() throws {
        let error = #expect(throws: GrammarError.self) { try Grammar(gbnf: "root ::= a\na ::= \"x\" )") }
        #expect(try #require(error) == .syntax(line: 2, column: 11, message: "expected end of line after rule 'a'"))
    }

    @Test("a repetition that would explode is refused, not built")
    func explosion() throws {
        let error = #expect(throws: GrammarError.self) { try Grammar(gbnf: #"root ::= (("a"{1000}){1000}){1000}"#) }
        #expect(try #require(error).description.contains("too large"))
    }
}

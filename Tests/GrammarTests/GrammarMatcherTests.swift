import Testing
@testable import Grammar

@Suite("Grammar matching")
struct GrammarMatcherTests {
    @Test("a refused piece leaves the matcher where it was")
    func refusalKeepsState() throws {
        var m = GrammarMatcher(try Grammar(gbnf: #"root ::= "ab" "c"*"#))
        let r1 = m.advance(Array("a".utf8))
        #expect(r1)
        let r2 = m.advance(Array("x".utf8))
        #expect(!r2)
        #expect(!m.isComplete)
        let r3 = m.advance(Array("bcc".utf8))
        #expect(r3)
        #expect(m.isComplete)
    }

    @Test("a character split across tokens waits for its second half")
    func splitCharacters() throws {
        var m = GrammarMatcher(try Grammar(gbnf: #"root ::= "é" "x""#))
        let r4 = m.advance([0xC3])
        #expect(r4)
        #expect(!m.isComplete)
        let r5 = m.accepts([0xC3])      // not a continuation byte
        #expect(!r5)
        let r6 = m.advance([0xA9, 0x78])
        #expect(r6)
        #expect(m.isComplete)
        #expect(m.mustEnd)
    }

    @Test("bytes that are not UTF-8 are refused")
    func invalidUTF8() throws {
        var m = GrammarMatcher(try Grammar(gbnf: "root ::= .*"))
        let r7 = m.accepts([0xFF])
        #expect(!r7)
        let r8 = m.accepts([0xED, 0xA0])        // a surrogate's start
        #expect(!r8)
        let r9 = m.accepts([0xC0, 0x80])        // overlong
        #expect(!r9)
        let r10 = m.accepts([])                  // an empty piece would loop
        #expect(!r10)
        let r11 = m.accepts([0xF0, 0x9F])         // a valid start of an emoji
        #expect(r11)
    }

    @Test("end of generation is allowed exactly where the grammar is complete")
    func endOfGeneration() throws {
        let (vocabulary, eog) = testVocabulary()
        var m = GrammarMatcher(try Grammar(gbnf: #"root ::= "ab" "c"?"#))
        let initial = m.allowedTokens(in: vocabulary)
        #expect(!initial[Int(eog)])
        let r12 = m.accept(Int32(UInt8(ascii: "a") - 0x20), in: vocabulary)
        #expect(r12)
        let r13 = m.accept(Int32(UInt8(ascii: "b") - 0x20), in: vocabulary)
        #expect(r13)
        let allowed = m.allowedTokens(in: vocabulary)
        #expect(allowed[Int(eog)])
        #expect(allowed[Int(UInt8(ascii: "c") - 0x20)])
        #expect(allowed.filter { $0 }.count == 2)
        let r14 = m.allows(eog - 1, in: vocabulary)   // a control token is never text
        #expect(!r14)
    }

    @Test("the mask agrees with trying every token one by one")
    func maskMatchesTries() throws {
        let (vocabulary, _) = testVocabulary()
        var m = GrammarMatcher(try Grammar(gbnf: #"root ::= "{\"" [a-z]+ "\":" " "? ("true" | [0-9]+) "}""#))
        for piece in ["{\"", "na", "me", "\":"] {
            let mask = m.allowedTokens(in: vocabulary)
            for token in mask.indices {
                let tried = m.allows(Int32(token), in: vocabulary)
                #expect(mask[token] == tried, "token \(token)")
            }
            let r15 = m.advance(Array(piece.utf8))
            #expect(r15, "\(piece)")
        }
    }

    @Test("an ambiguous grammar keeps its open stacks bounded")
    func ambiguity() throws {
        var m = GrammarMatcher(try Grammar(gbnf: #"root ::= ("a" | "a" "a" | "a" "a" "a")* "b""#))
        for _ in 0..<200 { let r16 = m.advance(Array("a".utf8)); #expect(r16) }
        let r17 = m.advance(Array("b".utf8))
        #expect(r17)
        #expect(m.isComplete)
    }
}

@Suite("Grammar-constrained choosing")
struct GrammarConstraintTests {
    @Test("a refused free choice is replaced by a masked one the grammar takes")
    func maskedRedraw() throws {
        let (vocabulary, eog) = testVocabulary()
        var c = GrammarConstraint(try Grammar(gbnf: #"root ::= "ab""#), vocabulary: vocabulary)
        let x = Int32(UInt8(ascii: "x") - 0x20)
        var masks: [[Bool]?] = []
        // A "model" that always wants 'x', then the first allowed token.
        let pick: ([Bool]?) -> Int32 = { mask in
            masks.append(mask)
            guard let mask else { return x }
            return Int32(mask.firstIndex(of: true)!)
        }
        let first = c.next(pick)
        #expect(first == Int32(UInt8(ascii: "a") - 0x20))
        let tookFirst = c.accept(try #require(first))
        let second = c.next(pick)
        let tookSecond = c.accept(try #require(second))
        #expect(tookFirst && tookSecond)
        #expect(c.mustEnd)
        let last = c.next(pick)
        #expect(last == eog)
        #expect(c.maskedSteps == 3)
        #expect(masks.count == 6)
    }

    @Test("a free choice the grammar takes costs no mask")
    func freeChoice() throws {
        let (vocabulary, _) = testVocabulary()
        var c = GrammarConstraint(try Grammar(gbnf: "root ::= [a-z]+"), vocabulary: vocabulary)
        let q = Int32(UInt8(ascii: "q") - 0x20)
        let token = c.next { _ in q }
        #expect(token == q)
        #expect(c.maskedSteps == 0)
    }
}

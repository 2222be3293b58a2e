import TestSupport
@testable import Grammar

/// The tests' seeded generator (TestSupport), visible to every file of this module.
typealias SeededGenerator = TestSupport.SeededGenerator

/// Feeds `text` byte by byte (so characters split across pieces, as tokens
/// split them) and says whether the grammar takes all of it and may end there.
func grammarMatches(_ grammar: Grammar, _ text: String) -> Bool {
    var matcher = GrammarMatcher(grammar)
    for byte in Array(text.utf8) where !matcher.advance([byte]) { return false }
    return matcher.isComplete
}

/// A vocabulary like a real one: single bytes, multi-character pieces,
/// pieces that split a character, two control tokens and an end token.
func testVocabulary() -> (GrammarVocabulary, eog: Int32) {
    var pieces: [[UInt8]?] = (0x20...0x7E).map { [UInt8($0)] }
    for text in ["{\"", "\":", "\", \"", "true", "false", "null", "12", "0.5", "\n  ", "  ", "[", "]}", "ab", "name", "age", "tags", "é", "日本"] {
        pieces.append(Array(text.utf8))
    }
    pieces.append([0xC3])          // first half of "é"
    pieces.append([0xA9])          // second half
    pieces.append([0xFF])          // never UTF-8
    pieces.append(nil)             // a control token
    pieces.append(nil)             // end of generation
    let eog = Int32(pieces.count - 1)
    return (GrammarVocabulary(pieces: pieces, endOfGeneration: [eog]), eog)
}

/// Walks the grammar with random allowed tokens until it ends; the text made.
func randomWalk(_ grammar: Grammar, seed: UInt64, maxTokens: Int = 4000) -> String? {
    let (vocabulary, eog) = testVocabulary()
    var rng = SeededGenerator(seed: seed)
    var matcher = GrammarMatcher(grammar)
    var bytes: [UInt8] = []
    for _ in 0..<maxTokens {
        let allowed = matcher.allowedTokens(in: vocabulary)
        let choices = allowed.indices.filter { allowed[$0] }.map(Int32.init)
        guard !choices.isEmpty else { return nil }
        if choices.contains(eog), Bool.random(using: &rng) { return String(decoding: bytes, as: UTF8.self) }
        let token = choices.randomElement(using: &rng)!
        if token == eog { return String(decoding: bytes, as: UTF8.self) }
        guard matcher.accept(token, in: vocabulary) else { return nil }
        bytes += vocabulary.pieces[Int(token)]!
    }
    return nil
}

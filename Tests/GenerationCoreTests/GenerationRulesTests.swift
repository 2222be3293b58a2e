import Testing
@testable import GenerationCore

@Suite("Generation rules: end of generation, stop strings, max tokens, finish reasons")
struct GenerationRulesTests {
    func rules(max: Int = 10, stops: [String] = [], ends: Set<Int32> = [0, 2]) -> GenerationRules {
        GenerationRules(options: GenerationOptions(maxTokens: max, stopStrings: stops), endOfGeneration: ends)
    }

    @Test("every token of the end-of-generation set ends it, uncounted and unshown")
    func endOfGeneration() {
        for end: Int32 in [0, 2] {
            var r = rules()
            #expect(r.accept(65, bytes: Array("A".utf8)) == .init(text: "A", isOutput: true, finish: nil))
            #expect(r.accept(end, bytes: Array("<|endoftext|>".utf8)) == .init(text: "", isOutput: false, finish: .endOfGeneration))
            #expect(r.tokenCount == 1 && r.finishReason == .endOfGeneration)
        }
    }

    @Test("max tokens ends with length, after showing the last token and what was held")
    func length() {
        var r = rules(max: 2, stops: ["XYZ"])
        #expect(r.accept(1, bytes: Array("a".utf8)).finish == nil)
        // "X" might start the stop string, so it is held — until the end.
        #expect(r.accept(3, bytes: Array("X".utf8)) == .init(text: "X", isOutput: true, finish: .length))
    }

    @Test("a stop string ends it: the token counts, the text stops before the string")
    func stopString() {
        var r = rules(stops: ["END"])
        #expect(r.accept(1, bytes: Array("ok E".utf8)).text == "ok ")
        #expect(r.accept(3, bytes: Array("ND more".utf8)) == .init(text: "", isOutput: true, finish: .stopString))
        #expect(r.tokenCount == 2)
    }

    @Test("half a UTF-8 character waits for the rest, and comes out as U+FFFD if the generation ends first")
    func utf8HoldBack() {
        let euro = Array("€".utf8)
        var r = rules()
        #expect(r.accept(5, bytes: Array(euro.prefix(2))).text == "")
        #expect(r.accept(6, bytes: Array(euro.suffix(1))).text == "€")
        #expect(r.accept(5, bytes: Array(euro.prefix(2))).text == "")
        #expect(r.end(.contextFull) == "\u{FFFD}")
        #expect(r.finishReason == .contextFull)
        #expect(r.accept(7, bytes: [0x41]).isOutput == false)
    }

    @Test("the worker's early stop agrees with the rules")
    func endsAt() {
        #expect(GenerationRules.endsAt(2, tokenCount: 1, maxTokens: 5, endOfGeneration: [2]))
        #expect(GenerationRules.endsAt(7, tokenCount: 5, maxTokens: 5, endOfGeneration: [2]))
        #expect(!GenerationRules.endsAt(7, tokenCount: 4, maxTokens: 5, endOfGeneration: [2]))
    }

    @Test("the one set of defaults: llama.cpp's sampling, a fixed seed, 256 tokens, no shift")
    func defaults() {
        let o = GenerationOptions()
        #expect(o.sampling.temperature == 0.8 && o.sampling.topK == 40 && o.sampling.topP == 0.95 && o.sampling.minP == 0.05)
        #expect(o.sampling.repetitionPenalty == 1 && o.sampling.repetitionWindow == 64 && o.sampling.seed == 0)
        #expect(o.maxTokens == 256 && o.logprobs == nil && !o.contextShift && o.stopStrings.isEmpty)
    }
}

@Suite("Context window: full, or shifted as llama.cpp does")
struct ContextWindowTests {
    let context: [Int32] = Array(0..<10)

    @Test("what fits fits; without shift a full context is full")
    func full() {
        #expect(ContextWindow(length: 11, shifts: false).decide(context: context, adding: 1, keep: 1) == .fits)
        #expect(ContextWindow(length: 10, shifts: false).decide(context: context, adding: 1, keep: 1) == .full)
    }

    @Test("a shift keeps the first n_keep tokens and drops half of the rest, the oldest")
    func shift() {
        // keep 1, 9 others: drop 4 → [0] + [5...9]
        #expect(ContextWindow(length: 10, shifts: true).decide(context: context, adding: 1, keep: 1) == .shift(tokens: [0, 5, 6, 7, 8, 9]))
        #expect(ContextWindow(length: 10, shifts: true).decide(context: context, adding: 1, keep: 4) == .shift(tokens: [0, 1, 2, 3, 7, 8, 9]))
    }

    @Test("a shift that frees nothing is a full context")
    func nothingToDrop() {
        #expect(ContextWindow(length: 10, shifts: true).decide(context: context, adding: 1, keep: 9) == .full)
        #expect(ContextWindow(length: 10, shifts: true).decide(context: context, adding: 1, keep: 10) == .full)
    }

    @Test("n_keep is the system part the prompt starts with, else the BOS")
    func keepCount() {
        #expect(ContextWindow.keepCount(prompt: [1, 5, 6, 7, 8], systemPart: [1, 5, 6, 9], bos: 1) == 3)
        #expect(ContextWindow.keepCount(prompt: [1, 5, 6], systemPart: nil, bos: 1) == 1)
        #expect(ContextWindow.keepCount(prompt: [5, 6], systemPart: nil, bos: 1) == 0)
        #expect(ContextWindow.keepCount(prompt: [5, 6], systemPart: nil, bos: nil) == 0)
    }
}

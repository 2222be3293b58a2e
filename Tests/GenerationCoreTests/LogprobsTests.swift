import Foundation
import Testing
@testable import GenerationCore

@Suite("Log-probabilities and the token mask")
struct LogprobsTests {
    static let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 3.0]

    @Test("the chosen token's log-probability is the log-softmax of the raw logits")
    func logSoftmax() {
        let l = Self.logits.withUnsafeBufferPointer { TokenLogprob(chosen: 2, in: $0, top: 0) }
        let sum = Self.logits.map { exp(Double($0)) }.reduce(0, +)
        #expect(abs(Double(l.logprob) - (2.5 - log(sum))) < 1e-6)
        #expect(l.top.isEmpty)
    }

    @Test("the top alternatives are the likeliest, most likely first, lower id first on ties", arguments: [1, 3, 6, 20])
    func top(count: Int) {
        let l = Self.logits.withUnsafeBufferPointer { TokenLogprob(chosen: 4, in: $0, top: count) }
        let expected: [Int32] = Array([1, 5, 2, 0, 4, 3].prefix(count))
        #expect(l.top.map(\.token) == expected)
        #expect(l.top.allSatisfy { $0.logprob <= 0 })
        #expect(zip(l.top, l.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
    }

    @Test("the probabilities over the whole vocabulary add up to one")
    func normalised() {
        let all = Self.logits.withUnsafeBufferPointer { TokenLogprob(chosen: 0, in: $0, top: 6) }
        #expect(abs(all.top.map { exp(Double($0.logprob)) }.reduce(0, +) - 1) < 1e-5)
    }

    @Test("the chooser reports log-probabilities of the distribution before temperature and penalties")
    func beforeSampling() {
        var options = GenerationOptions(logprobs: 2)
        options.sampling.temperature = 0.1
        options.sampling.repetitionPenalty = 5
        var chooser = TokenChooser(options: options)
        chooser.accept([1])
        let choice = Self.logits.withUnsafeBufferPointer { chooser.choose(from: $0) }
        let raw = Self.logits.withUnsafeBufferPointer { TokenLogprob(chosen: choice.token, in: $0, top: 2) }
        #expect(choice.logprob == raw)
    }

    @Test("a token mask rules tokens out before sampling, greedy or not")
    func mask() {
        var mask = TokenMask(vocabularySize: Self.logits.count, allowed: false)
        mask[3] = true
        mask[4] = true
        var greedy = Sampler(.greedy)
        #expect(Self.logits.withUnsafeBufferPointer { greedy.sample($0, mask: mask) } == 4)
        var sampled = Sampler(SamplingParameters())
        for _ in 0..<50 {
            let token = Self.logits.withUnsafeBufferPointer { sampled.sample($0, mask: mask) }
            #expect(token == 3 || token == 4)
        }
        #expect(!mask[99] && !mask[-1])
    }
}

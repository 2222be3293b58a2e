import Foundation
import Testing
@testable import GenerationCore
import TestSupport

@Suite("Sampler")
struct SamplerTests {
    static let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 2.9]

    func sample(_ p: SamplingParameters, _ logits: [Float] = logits, times: Int = 1) -> [Int32] {
        var sampler = Sampler(p)
        return (0..<times).map { _ in logits.withUnsafeBufferPointer { sampler.sample($0) } }
    }

    @Test("Greedy picks the largest logit, the first one on ties")
    func greedy() {
        #expect(sample(.greedy) == [1])
        #expect(sample(.greedy, [0, 5, 5, 1]) == [1])
    }

    @Test("Greedy's argmax is the first largest logit at every length, NaN and −∞ never win")
    func argmaxAgreesWithOneChain() {
        // the definition, one compare at a time
        func reference(_ x: [Float]) -> Int32 {
            var best = 0, value = -Float.infinity
            for (i, v) in x.enumerated() where v > value { best = i; value = v }
            return Int32(best)
        }
        var generator = SeededGenerator(seed: 7)
        for n in Array(0...100) + [255, 256, 257, 4099, 49152] {
            for pattern in 0..<6 {
                var x = (0..<n).map { _ in Float(Int.random(in: -40...40, using: &generator)) / 4 }  // many ties
                if n > 0 {
                    switch pattern {
                    case 1: x[Int.random(in: 0..<n, using: &generator)] = .nan
                    case 2: x = x.map { _ in -.infinity }
                    case 3: x = x.map { _ in .nan }
                    case 4: x[n - 1] = 100  // the largest in the tail past the lanes
                    case 5: x[Int.random(in: 0..<n, using: &generator)] = .infinity
                    default: break
                    }
                }
                let got = x.withUnsafeBufferPointer { Sampler.argmax($0) }
                #expect(got == reference(x), "\(n) logits, pattern \(pattern)")
            }
        }
    }

    @Test("The same seed gives the same tokens; another seed gives others")
    func seeded() {
        var p = SamplingParameters()
        p.temperature = 1.5
        p.topK = 0; p.topP = 1; p.minP = 0
        p.seed = 42
        let a = sample(p, times: 200), b = sample(p, times: 200)
        p.seed = 43
        let c = sample(p, times: 200)
        #expect(a == b)
        #expect(a != c)
    }

    @Test("Top-k 1 is greedy whatever the temperature")
    func topKOne() {
        var p = SamplingParameters()
        p.temperature = 5
        p.topK = 1
        #expect(Set(sample(p, times: 100)) == [1])
    }

    @Test("Top-k keeps only the k most likely tokens", arguments: [2, 3])
    func topK(k: Int) {
        var p = SamplingParameters()
        p.temperature = 10; p.topP = 1; p.minP = 0; p.topK = k
        let allowed: Set<Int32> = k == 2 ? [1, 5] : [1, 5, 2]
        #expect(Set(sample(p, times: 300)).isSubset(of: allowed))
        #expect(Set(sample(p, times: 300)).count == k)
    }

    @Test("Min-p drops tokens far less likely than the best")
    func minP() {
        var p = SamplingParameters()
        p.temperature = 10; p.topK = 0; p.topP = 1
        // exp(l - 3) ≥ 0.5  ⇔  l ≥ 3 − ln 2 ≈ 2.31: tokens 1, 5 and 2 survive.
        p.minP = 0.5
        #expect(Set(sample(p, times: 300)) == [1, 5, 2])
    }

    @Test("Top-p keeps the smallest set reaching the mass")
    func topP() {
        var p = SamplingParameters()
        p.temperature = 1; p.topK = 0; p.minP = 0
        // Probabilities of 3.0, 2.9, 2.5 are ≈ .34, .31, .20: .34 + .31 < .7 ≤ .85.
        p.topP = 0.7
        #expect(Set(sample(p, times: 400)) == [1, 5, 2])
    }

    @Test("Sampled frequencies follow the softmax of logits / temperature")
    func frequencies() {
        var p = SamplingParameters()
        p.temperature = 1; p.topK = 0; p.topP = 1; p.minP = 0; p.seed = 7
        let logits: [Float] = [0, Float(log(3.0))]   // probabilities 1/4, 3/4
        let draws = sample(p, logits, times: 4000)
        let share = Double(draws.filter { $0 == 1 }.count) / 4000
        #expect(abs(share - 0.75) < 0.03)
    }

    @Test("The repetition penalty pushes a seen token below an unseen one")
    func repetitionPenalty() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 1.5
        var sampler = Sampler(p)
        sampler.accept(1)
        // 3.0 / 1.5 = 2.0 < 2.9: token 5 wins now.
        #expect(Self.logits.withUnsafeBufferPointer { sampler.sample($0) } == 5)
    }
}

extension SamplerTests {
    @Test("The repetition penalty also applies before top-k when sampling, and leaves the caller's logits alone")
    func penaltyBeforeTopK() {
        var p = SamplingParameters()
        p.temperature = 5; p.topK = 1; p.topP = 1; p.minP = 0
        p.repetitionPenalty = 1.5
        var sampler = Sampler(p)
        sampler.accept(1)
        let logits = Self.logits
        let picks = (0..<20).map { _ in logits.withUnsafeBufferPointer { sampler.sample($0) } }
        #expect(Set(picks) == [5])
        #expect(logits == Self.logits)
    }
}

@Suite("Stop strings")
struct StopStringTests {
    @Test("Text before a stop string is shown; the stop string and what follows are not")
    func stops() {
        var f = StopStringFilter(["</s>", "END"])
        #expect(f.feed("Hello ") == .init(text: "Hello ", stopped: false))
        #expect(f.feed("wor") == .init(text: "wor", stopped: false))
        #expect(f.feed("ld EN") == .init(text: "ld ", stopped: false))
        #expect(f.feed("D and more") == .init(text: "", stopped: true))
    }

    @Test("A held-back prefix that turns out not to stop is released")
    func releases() {
        var f = StopStringFilter(["END"])
        #expect(f.feed("the E").text == "the ")
        #expect(f.feed("ND?").stopped)
        var g = StopStringFilter(["END"])
        _ = g.feed("the E")
        #expect(g.feed("ast") == .init(text: "East", stopped: false))
        #expect(g.finish() == "")
    }

    @Test("The earliest of several stop strings wins")
    func earliest() {
        var f = StopStringFilter(["bb", "a"])
        #expect(f.feed("xxbbya") == .init(text: "xx", stopped: true))
    }

    @Test("Without stop strings text passes straight through")
    func none() {
        var f = StopStringFilter([])
        #expect(f.feed("anything </s>") == .init(text: "anything </s>", stopped: false))
    }
}

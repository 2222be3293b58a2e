import Foundation
import GGUF
import Testing
import TestSupport
@testable import Inference

@Suite("Expert routing")
struct MoERoutingTests {
    func route(_ routing: ExpertRouting, _ logits: [Float], k: Int) -> ExpertChoice {
        var p = [Float](repeating: 0, count: logits.count)
        return logits.withUnsafeBufferPointer { l in
            p.withUnsafeMutableBufferPointer { routing.route(l.baseAddress!, count: logits.count, k: k, probabilities: $0.baseAddress!) }
        }
    }

    func softmax(_ x: [Double]) -> [Double] {
        let e = x.map { exp($0 - x.max()!) }
        return e.map { $0 / e.reduce(0, +) }
    }

    @Test("Top-k returns the largest values, largest first", arguments: [1, 2, 3, 5])
    func topKOrder(k: Int) {
        let values: [Float] = [0.1, 3, -2, 7, 0.5, 2.9]
        let picked = values.withUnsafeBufferPointer { topK($0.baseAddress!, count: values.count, k: k) }
        let expected = values.indices.sorted { values[$0] > values[$1] }.prefix(k)
        #expect(picked == Array(expected))
    }

    @Test("Ties go to the lower expert index, whatever their position")
    func ties() {
        let values: [Float] = [1, 5, 2, 5, 5, 0]
        let picked = values.withUnsafeBufferPointer { topK($0.baseAddress!, count: values.count, k: 2) }
        #expect(picked == [1, 3])
        let all = values.withUnsafeBufferPointer { topK($0.baseAddress!, count: values.count, k: 4) }
        #expect(all == [1, 3, 4, 2])
    }

    @Test("k larger than the expert count returns every expert; k = 0 returns none")
    func degenerateK() {
        let values: [Float] = [2, 1]
        #expect(values.withUnsafeBufferPointer { topK($0.baseAddress!, count: 2, k: 5) } == [0, 1])
        #expect(values.withUnsafeBufferPointer { topK($0.baseAddress!, count: 2, k: 0) } == [])
    }

    @Test("Mixtral routing renormalises the chosen probabilities to sum to one")
    func mixtralRenormalises() {
        let logits: [Float] = [0.3, -1, 2, 0.9, 1.7, -0.2, 0, 0.4]
        let c = route(.mixtral, logits, k: 2)
        #expect(c.experts == [2, 4])
        let p = softmax(logits.map(Double.init))
        #expect(abs(Double(c.weights[0]) - p[2] / (p[2] + p[4])) < 1e-6)
        #expect(abs(Double(c.weights.reduce(0, +)) - 1) < 1e-6)
    }

    @Test("OLMoE and Qwen2-MoE keep the raw softmax probabilities of the chosen experts",
          arguments: [ExpertRouting.olmoe, .qwen2MoE])
    func noRenormalisation(routing: ExpertRouting) {
        let logits: [Float] = [0.3, -1, 2, 0.9, 1.7, -0.2, 0, 0.4]
        let c = route(routing, logits, k: 2)
        let p = softmax(logits.map(Double.init))
        #expect(c.experts == [2, 4])
        #expect(abs(Double(c.weights[0]) - p[2]) < 1e-6 && abs(Double(c.weights[1]) - p[4]) < 1e-6)
        #expect(c.weights.reduce(0, +) < 0.9)
    }

    @Test("Softmax over the selected logits equals renormalised softmax over all")
    func softmaxAfterTopK() throws {
        let logits: [Float] = [0.5, 1.5, -0.5, 1.2, 0.1]
        let after = route(ExpertRouting(gate: .softmaxOverSelected, normalizesSelected: false), logits, k: 3)
        let before = route(.mixtral, logits, k: 3)
        #expect(after.experts == before.experts)
        try #require(after.weights.count == 3 && before.weights.count == 3)
        #expect(zip(after.weights, before.weights).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("Sigmoid gating scores each expert independently; weight scale multiplies")
    func sigmoidAndScale() {
        let logits: [Float] = [0, 2, -1]
        let c = route(ExpertRouting(gate: .sigmoid, normalizesSelected: false, weightScale: 2.5), logits, k: 2)
        #expect(c.experts == [1, 0])
        #expect(abs(c.weights[0] - 2.5 / (1 + exp(-2))) < 1e-6)
        #expect(abs(c.weights[1] - 2.5 * 0.5) < 1e-6)
    }

    @Test("Entropy is log n for a uniform router and 0 for a certain one")
    func entropyBounds() {
        let uniform = [Float](repeating: 0.25, count: 4)
        #expect(abs(uniform.withUnsafeBufferPointer { entropy($0.baseAddress!, count: 4) } - log(4)) < 1e-9)
        let certain: [Float] = [0, 1, 0]
        #expect(certain.withUnsafeBufferPointer { entropy($0.baseAddress!, count: 3) } == 0)
    }

    @Test("Routing keys in the file override the family's defaults")
    func fileKeysOverride() throws {
        var model = SyntheticModel.olmoe()
        model.extraKeys = [("expert_weights_norm", .bool(true)), ("expert_gating_func", .uint32(3)),
                           ("expert_weights_scale", .float32(1.5))]
        let h = try Hyperparameters(GGUFFile(path: model.write()).metadata)
        let r = try ExpertRouting.olmoe.applying(h)
        #expect(r == ExpertRouting(gate: .softmaxOverSelected, normalizesSelected: true, weightScale: 1.5))
    }

    @Test("An unknown gating function is refused with its key named")
    func badGatingFunction() throws {
        var model = SyntheticModel.mixtral()
        model.extraKeys = [("expert_gating_func", .uint32(9))]
        let file = try GGUFFile(path: model.write())
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains("expert_gating_func") == true)
    }

    @Test("Experts-used above the expert count, or zero with experts, is refused", arguments: [(4, 5), (4, 0)])
    func badExpertsUsed(experts: Int, used: Int) throws {
        let file = try GGUFFile(path: SyntheticModel.mixtral(experts: experts, used: used).write())
        #expect(throws: InferenceError.self) { try Transformer(file: file) }
    }
}

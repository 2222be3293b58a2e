import Foundation
import GGUF
import Testing
import TestSupport
@testable import Inference

/// One synthetic model per MoE family, with the reference's independent
/// description of how that family routes.
struct MoECase: CustomTestStringConvertible, Sendable {
    var label: String
    var model: SyntheticModel
    var family: MoEReference.Family
    var testDescription: String { label }

    static let all: [MoECase] = [
        MoECase(label: "Mixtral layout 8/2", model: .mixtral(), family: .init(ropeHalves: false, renormalize: true)),
        MoECase(label: "OLMoE 8/2", model: .olmoe(), family: .init(ropeHalves: true, renormalize: false)),
        MoECase(label: "Qwen2-MoE 8/2 + shared", model: .qwen2MoE(), family: .init(ropeHalves: true, renormalize: false)),
        MoECase(label: "Qwen3-MoE 8/2", model: .qwen3MoE(), family: .init(ropeHalves: true, renormalize: true)),
        MoECase(label: "OLMoE 64/8", model: .olmoe(experts: 64, used: 8), family: .init(ropeHalves: true, renormalize: false)),
    ]
}

extension SyntheticModel: @unchecked Sendable {}

@Suite("MoE forward pass")
struct MoETransformerTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111]

    static func worstDifference(_ logits: [Float], _ expected: [[Double]], vocabulary: Int) -> Double {
        var worst = 0.0
        for (t, row) in expected.enumerated() {
            for (i, v) in row.enumerated() { worst = max(worst, abs(Double(logits[t * vocabulary + i]) - v)) }
        }
        return worst
    }

    @Test("Each family's tiny F32 model matches the Double reference at every position",
          arguments: MoECase.all)
    func matchesReference(c: MoECase) throws {
        let file = try GGUFFile(path: c.model.write(named: "moe"))
        let transformer = try Transformer(file: file, options: ModelOptions(threads: 2, kvType: .f32))
        let expected = MoEReference(file: file, model: c.model, family: c.family).logits(Self.prompt)
        let logits = try transformer.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        let worst = Self.worstDifference(logits, expected, vocabulary: transformer.vocabularySize)
        #expect(worst < 1e-4, "max |engine − reference| = \(worst)")
    }

    @Test("A batch routed and grouped by expert equals token-by-token decoding",
          arguments: [MoECase.all[0], MoECase.all[2], MoECase.all[4]])
    func batchedEqualsIncremental(c: MoECase) throws {
        let file = try GGUFFile(path: c.model.write(named: "moe"))
        let batched = try Transformer(file: file)
        let stepwise = try Transformer(file: file, options: ModelOptions(maxBatch: 1))
        let all = try batched.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        var one: [Float] = []
        for (i, token) in Self.prompt.enumerated() {
            one += try stepwise.evaluate([BatchEntry(token: token, position: i, wantsLogits: true)])
        }
        // relative to the largest logit: the two add the same products in
        // another order (batched and one-row F32 kernels), so the rounding
        // scales with the logits (1.0e-4 on logits up to 8.1 in the Mixtral case at AVX2)
        let scale = max(1, one.map { abs($0) }.max()!)
        #expect(zip(all, one).map { abs($0 - $1) }.max()! < 2e-5 * scale, "largest logit \(scale)")
        // the same routing; the entropies to rounding, since batched products
        // (the F32 router's four-row kernel) add in another order than one row
        let b = try #require(batched.expertStatistics).layers, s = try #require(stepwise.expertStatistics).layers
        #expect(b.map(\.selections) == s.map(\.selections) && b.map(\.tokens) == s.map(\.tokens))
        for (x, y) in zip(b, s) { #expect(abs(x.entropySum - y.entropySum) <= 1e-5 * max(1, abs(y.entropySum))) }
        #expect(b.count == s.count)
    }

    @Test("Overriding experts-used routes to that many experts, and can be restored")
    func expertsUsedOverride() throws {
        let c = MoECase.all[0]
        let file = try GGUFFile(path: c.model.write(named: "moe"))
        let transformer = try Transformer(file: file, options: ModelOptions(kvType: .f32))
        try transformer.setExpertsUsed(3)
        #expect(transformer.expertsUsed == 3)
        let expected = MoEReference(file: file, model: c.model, family: c.family, k: 3).logits(Self.prompt)
        let logits = try transformer.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        #expect(Self.worstDifference(logits, expected, vocabulary: transformer.vocabularySize) < 1e-4)
        try transformer.setExpertsUsed(nil)
        #expect(transformer.expertsUsed == 2)
        #expect(throws: InferenceError.self) { try transformer.setExpertsUsed(0) }
        #expect(throws: InferenceError.self) { try transformer.setExpertsUsed(9) }
    }

    @Test("A dense model reports no experts and refuses an experts-used override")
    func denseHasNoExperts() throws {
        let transformer = try Transformer(file: GGUFFile(path: SyntheticModel().write()))
        #expect(transformer.expertCount == 0 && transformer.expertsUsed == 0)
        #expect(transformer.expertStatistics == nil)
        #expect(throws: InferenceError.self) { try transformer.setExpertsUsed(1) }
    }

    @Test("A missing expert tensor is named in the error")
    func missingExpertTensor() throws {
        var model = SyntheticModel.qwen2MoE()
        model.omittedTensors = ["blk.1.ffn_up_shexp.weight"]
        let file = try GGUFFile(path: model.write())
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains("blk.1.ffn_up_shexp.weight") == true)
    }

    @Test("Statistics count k picks per token per layer, with entropy within [0, log n]")
    func statistics() throws {
        let model = SyntheticModel.olmoe(experts: 16, used: 4)
        let transformer = try Transformer(file: GGUFFile(path: model.write()))
        _ = try transformer.evaluate(BatchEntry.prompt(Self.prompt))
        let stats = try #require(transformer.expertStatistics)
        #expect(stats.layers.count == model.layers)
        for layer in stats.layers {
            #expect(layer.tokens == Self.prompt.count)
            #expect(layer.selections.reduce(0, +) == Self.prompt.count * 4)
            #expect(layer.selections.allSatisfy { $0 <= Self.prompt.count })
            #expect(layer.meanEntropy > 0 && layer.meanEntropy <= log(16) + 1e-9)
            #expect(abs(layer.selectionShares.reduce(0, +) - 1) < 1e-9)
        }
        transformer.resetExpertStatistics()
        #expect(transformer.expertStatistics?.tokens == 0)
    }

    @Test("Experts that no token picks are never read: poisoning them with NaN changes nothing")
    func unpickedExpertsAreNotRead() throws {
        let model = SyntheticModel.olmoe(experts: 64, used: 2)
        let path = try model.write(named: "moe-poison")
        let clean = try Transformer(file: GGUFFile(path: path))
        let before = try clean.evaluate(BatchEntry.prompt(Self.prompt))
        let stats = try #require(clean.expertStatistics)
        let file = try GGUFFile(path: path)
        var poisoned = 0
        for (l, layer) in stats.layers.enumerated() {
            for (e, n) in layer.selections.enumerated() where n == 0 {
                for kind in ["gate", "up", "down"] {
                    try poison(file, path: path, tensor: "blk.\(l).ffn_\(kind)_exps.weight", slice: e, of: 64)
                }
                poisoned += 1
            }
        }
        #expect(poisoned > 60)
        let after = try Transformer(file: GGUFFile(path: path)).evaluate(BatchEntry.prompt(Self.prompt))
        #expect(after == before, "logits changed after poisoning unpicked experts")
        // And the poison is real: a model that reads every expert would now produce NaNs.
        #expect(try poisonedDense(file: GGUFFile(path: path)).contains { $0.isNaN })
    }

    /// Every expert at full weight: forcing k to the expert count reads the poisoned ones too.
    private func poisonedDense(file: GGUFFile) throws -> [Float] {
        let t = try Transformer(file: file)
        try t.setExpertsUsed(64)
        return try t.evaluate(BatchEntry.prompt(Self.prompt))
    }

    /// Overwrites one expert's slice of a stacked F32 tensor with NaNs, in the file.
    private func poison(_ file: GGUFFile, path: String, tensor name: String, slice: Int, of count: Int) throws {
        let t = try #require(file.tensor(named: name))
        let bytes = t.byteCount / count
        let start = t.offset + slice * bytes   // offsets are absolute
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(start))
        handle.write([Float](repeating: .nan, count: bytes / 4).withUnsafeBytes { Data($0) })
    }
}

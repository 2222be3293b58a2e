import Foundation
import GGUF
import Testing
import TestSupport
import Kernels
@testable import Upcycle
@testable import Inference

@Suite("Sparse upcycling")
struct MoEUpcycleTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111]

    func upcycle(_ dense: SyntheticModel, _ options: UpcycleOptions) throws -> (dense: String, moe: String) {
        let densePath = try dense.write(named: "dense")
        let moePath = TemporaryFiles.path("upcycled.gguf")
        try Upcycler.upcycle(inputPath: densePath, outputPath: moePath, options: options)
        return (densePath, moePath)
    }

    func logits(_ path: String, allLogits: Bool = true) throws -> [Float] {
        try Transformer(file: GGUFFile(path: path), options: ModelOptions(kvType: .f32)).evaluate(BatchEntry.prompt(Self.prompt, allLogits: allLogits))
    }

    @Test("Identical experts reproduce the dense model's logits (renormalised weights sum to one)",
          arguments: [(8, 2), (16, 4), (4, 1)])
    func identityWithoutNoise(experts: Int, used: Int) throws {
        let paths = try upcycle(SyntheticModel(), UpcycleOptions(experts: experts, expertsUsed: used, expertType: .same))
        let worst = zip(try logits(paths.dense), try logits(paths.moe)).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "max |dense − MoE| = \(worst)")
        let t = try Transformer(file: GGUFFile(path: paths.moe), options: ModelOptions(kvType: .f32))
        #expect(t.expertCount == experts && t.expertsUsed == used)
    }

    @Test("The file is Mixtral layout: llama with expert keys, stacked experts and a router per block")
    func layout() throws {
        let model = SyntheticModel()
        let paths = try upcycle(model, UpcycleOptions(experts: 4, expertsUsed: 2, expertType: .f16))
        let f = try GGUFFile(path: paths.moe)
        #expect(try f.metadata.string("general.architecture") == "llama")
        #expect(try f.metadata.int("llama.expert_count") == 4 && f.metadata.int("llama.expert_used_count") == 2)
        let d = model.embedding, ff = model.feedForward
        #expect(f.tensor(named: "blk.0.ffn_gate_inp.weight")?.shape == [d, 4])
        #expect(f.tensor(named: "blk.1.ffn_up_exps.weight")?.shape == [d, ff, 4])
        #expect(f.tensor(named: "blk.1.ffn_down_exps.weight")?.shape == [ff, d, 4])
        #expect(f.tensor(named: "blk.1.ffn_down_exps.weight")?.type == .f16)
        #expect(f.tensor(named: "blk.0.ffn_gate.weight") == nil)
    }

    @Test("Noisy experts differ from the dense model and still match the Mixtral reference")
    func noisyMatchesReference() throws {
        let model = SyntheticModel()
        let paths = try upcycle(model, UpcycleOptions(experts: 4, expertsUsed: 2, noise: 0.5, seed: 7, expertType: .f32))
        let moe = try logits(paths.moe)
        let dense = try logits(paths.dense)
        #expect(zip(moe, dense).map { abs($0 - $1) }.max()! > 1e-2)
        let file = try GGUFFile(path: paths.moe)
        let expected = MoEReference(file: file, model: model, family: .init(ropeHalves: false, renormalize: true), k: 2)
            .logits(Self.prompt)
        let worst = MoETransformerTests.worstDifference(moe, expected, vocabulary: model.vocabulary.count)
        #expect(worst < 1e-4, "max |engine − reference| = \(worst)")
    }

    @Test("The same seed writes the same file; another seed another one")
    func deterministic() throws {
        let options = UpcycleOptions(experts: 4, expertsUsed: 2, noise: 0.1, seed: 3, expertType: .q8_0)
        let a = try upcycle(SyntheticModel(), options).moe
        let b = try upcycle(SyntheticModel(), options).moe
        var other = options
        other.seed = 4
        let c = try upcycle(SyntheticModel(), other).moe
        let bytes = { (p: String) in try Data(contentsOf: URL(fileURLWithPath: p)) }
        #expect(try bytes(a) == bytes(b))
        #expect(try bytes(a) != bytes(c))
    }

    @Test("Q8_0 experts stay close to the dense F32 model")
    func q8Experts() throws {
        let paths = try upcycle(SyntheticModel(), UpcycleOptions(experts: 4, expertsUsed: 2, expertType: .q8_0))
        let dense = try logits(paths.dense), moe = try logits(paths.moe)
        let spread = dense.max()! - dense.min()!
        #expect(zip(dense, moe).map { abs($0 - $1) }.max()! < 0.05 * spread)
        #expect(try GGUFFile(path: paths.moe).tensor(named: "blk.0.ffn_up_exps.weight")?.type == .q8_0)
    }

    @Test("Noisy experts of a Q4_1 model are re-encoded as Q4_1 within half a step of each value")
    func q41RoundTrip() throws {
        var random = SeededRandom(seed: 5)
        let values = (0..<256).map { _ in 0.7 * random.nextSigned() + 0.1 }
        let bytes = quantizeQ4_1(values)
        #expect(bytes.count == 256 / 32 * 20)
        var back = [Float](repeating: 0, count: values.count)
        bytes.withUnsafeBytes { b in
            back.withUnsafeMutableBufferPointer { KernelTable.scalar[.q4_1]!.dequantize(b.baseAddress!, into: $0.baseAddress!, count: 256) }
        }
        for start in stride(from: 0, to: 256, by: 32) {
            let block = values[start..<start + 32]
            let step = (block.max()! - block.min()!) / 15
            for i in block.indices { #expect(abs(back[i] - values[i]) <= step / 2 + 1e-3, "value \(i)") }
        }
    }

    @Test("Bad requests are refused with the reason named", arguments: [
        (UpcycleOptions(experts: 4, expertsUsed: 5), "--experts-used"),
        (UpcycleOptions(experts: 0, expertsUsed: 0), "--experts"),
        (UpcycleOptions(experts: 4, expertsUsed: 2, noise: -1), "--noise"),
    ])
    func refusals(options: UpcycleOptions, mention: String) throws {
        let error = #expect(throws: UpcycleError.self) { try upcycle(SyntheticModel(), options) }
        #expect(error?.description.contains(mention) == true)
    }

    @Test("Only dense llama files are upcycled", arguments: ["qwen2", "mixtral"])
    func refusesOtherInputs(kind: String) throws {
        var model = kind == "mixtral" ? SyntheticModel.mixtral() : SyntheticModel()
        if kind == "qwen2" { model.architecture = "qwen2"; model.attentionBiases = true }
        let error = #expect(throws: UpcycleError.self) { try upcycle(model, UpcycleOptions(experts: 4, expertsUsed: 2)) }
        #expect(error?.description.contains(kind == "mixtral" ? "expert_count" : "general.architecture") == true)
    }
}

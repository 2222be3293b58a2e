import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

/// Weights repacked at load (ModelOptions.repacksWeights, MOED_REPACK)
/// change the order floats are summed in and nothing else: a Q4_1 model
/// gives the same logits either way, for prompts, decoding and batches of
/// a few sequences.
@Suite("Weights repacked at load")
struct RepackTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100]

    static func load(repacking: Bool, threads: Int = 1, tied: Bool = false) throws -> Transformer {
        var model = SyntheticModel()
        model.weightType = .q4_1
        model.separateOutput = !tied
        let file = try GGUFFile(path: try model.write(named: "repack-q4_1"))
        return try Transformer(file: file, options: ModelOptions(threads: threads, maxBatch: 64, repacksWeights: repacking, kvType: .f32))
    }

    /// Largest difference relative to the largest logit.
    static func difference(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 1
        return zip(a, b).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
    }

    /// Logits of a prompt (every position), eight decode steps, and four
    /// sequences decoded together, in one array.
    static func run(_ t: Transformer) throws -> [Float] {
        var all = try t.evaluate(BatchEntry.prompt(prompt, allLogits: true))
        // fixed tokens: picking the argmax could follow a near tie either way
        for step in 0..<8 {
            all += try t.evaluate([BatchEntry(token: Int32(65 + 3 * step), position: prompt.count + step, wantsLogits: true)])
        }
        for s in 1...4 { _ = try t.evaluate(BatchEntry.prompt(Array(prompt.prefix(s + 2)), sequence: Int32(s))) }
        for _ in 0..<3 {
            let batch = (1...4).map { s in
                BatchEntry(token: Int32(40 + s), position: t.cache.length(of: Int32(s)), sequence: Int32(s), wantsLogits: true)
            }
            all += try t.evaluate(batch)
        }
        return all
    }

    @Test("repacked and mapped Q4_1 weights give the same logits", arguments: [1, 2])
    func sameLogits(threads: Int) throws {
        let repacked = try Self.load(repacking: true, threads: threads)
        let mapped = try Self.load(repacking: false, threads: threads)
        let layer = try #require(repacked.layers.first)
        #expect(layer.query.layout == .interleaved8 && layer.key.layout == .interleaved8)
        #expect(mapped.layers.first?.query.layout == .ggml)
        guard case .dense(let ffn) = layer.feedForward else {
            Issue.record("the first layer has no dense feed-forward to check")
            return
        }
        #expect(ffn.down.layout == .interleaved8)
        let a = try Self.run(repacked), b = try Self.run(mapped)
        #expect(a.count == b.count)
        #expect(Self.difference(a, b) <= 1e-4, "threads \(threads)")
    }

    @Test("a tied output keeps the embedding's layout, which is read row by row")
    func tiedOutput() throws {
        let repacked = try Self.load(repacking: true, tied: true)
        #expect(repacked.output.layout == .ggml)
        #expect(repacked.layers.first?.output.layout == .interleaved8)
        let mapped = try Self.load(repacking: false, tied: true)
        let difference = Self.difference(try Self.run(repacked), try Self.run(mapped))
        #expect(difference <= 1e-4)
    }

    /// A tied Q8_0 embedding (SmolLM2's): the output matrix is repacked and
    /// the lookup reads its rows from the same copy.
    static func loadTiedQ8_0(repacking: Bool) throws -> Transformer {
        var model = SyntheticModel()
        model.weightType = .q8_0
        model.separateOutput = false
        model.vocabulary = SyntheticVocabulary(padding: 5)  // 272 rows: whole groups of eight
        let file = try GGUFFile(path: try model.write(named: "repack-tied-q8_0"))
        return try Transformer(file: file, options: ModelOptions(threads: 1, maxBatch: 64, repacksWeights: repacking, kvType: .f32))
    }

    @Test("a tied Q8_0 output is repacked and the embedding lookup reads its rows from the copy",
          .enabled(if: KernelTable.best[.q8_0]?.canReadInterleavedRows == true,
                   "skipped: Q8_0 has its x8 layout only at avx2 and avx512vnni, which this CPU (or MOED_KERNEL_ISA) lacks"))
    func tiedQ8_0() throws {
        let repacked = try Self.loadTiedQ8_0(repacking: true)
        #expect(repacked.output.layout == .interleaved8)
        #expect(repacked.tokenEmbedding.weights === repacked.output.weights, "one copy serves both")
        let mapped = try Self.loadTiedQ8_0(repacking: false)
        #expect(mapped.tokenEmbedding.weights.layout == .ggml)
        let width = repacked.hyperparameters.embeddingSize
        for token in [0, 7, 8, 100, repacked.vocabularySize - 1] {
            var a = [Float](repeating: .nan, count: width), b = [Float](repeating: 0, count: width)
            repacked.tokenEmbedding.row(token, into: &a)
            mapped.tokenEmbedding.row(token, into: &b)
            #expect(a == b, "token \(token)")
        }
        // At avx512vnni both layouts' decode products are the scalar dot bit
        // for bit. At avx2 only the repacked one is (repack_q8_0_avx2.c);
        // ggml's layout takes the one-row dot (its lanes summed in another
        // order) and gemm4 (FMA), and requantizing each layer's activations
        // to q8_0 turns such last-bit differences into whole steps of 1/127:
        // 2.0e-3 measured (item 40 of docs/performance.md).
        let tolerance = KernelTable.best[.q8_0]?.isa == .avx512vnni ? 1e-4 : 5e-3
        #expect(Self.difference(try Self.run(repacked), try Self.run(mapped)) <= tolerance)
    }
}

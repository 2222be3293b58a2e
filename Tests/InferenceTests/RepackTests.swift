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

    static func load(repacking: Bool, threads: Int = 1, tied: Bool = false, type: GGMLType = .q4_1) throws -> Transformer {
        var model = SyntheticModel()
        model.weightType = type
        model.separateOutput = !tied
        model.vocabularyPadding = type == .q8_0 ? 5 : 0  // 272 rows: the Q8_0 output can be repacked
        let file = try GGUFFile(path: try model.write(named: "repack-\(type)-\(tied ? "tied" : "untied")"))
        return try Transformer(file: file, options: ModelOptions(threads: threads, maxBatch: 64, repacksWeights: repacking))
    }

    /// Largest difference relative to the largest logit.
    static func difference(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 1
        return zip(a, b).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
    }

    /// Logits of a prompt (every position), eight decode steps, and four
    /// sequences decoded together, in one array. `promptByToken` feeds the
    /// prompt one token per step instead (see `tiedQ8Output`).
    static func run(_ t: Transformer, promptByToken: Bool = false) throws -> [Float] {
        var all: [Float] = []
        if promptByToken {
            for (p, token) in prompt.enumerated() { all += try t.evaluate([BatchEntry(token: token, position: p, wantsLogits: true)]) }
        } else {
            all = try t.evaluate(BatchEntry.prompt(prompt, allLogits: true))
        }
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
        if case .dense(let ffn) = layer.feedForward { #expect(ffn.down.layout == .interleaved8) }
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

    /// Q8_0 rows can be read back from the repacked copy, so a tied Q8_0
    /// output projection is repacked and the embedding lookup reads its rows
    /// there: prompts (lookups) and products both go through the copy.
    /// The prompt goes in one token at a time: on a 12-row prompt the
    /// mapped model's AVX2 Q8_0 products gave one position's logits 0.6 %
    /// off the scalar kernels' (which the repacked model matches), a
    /// difference of the ggml-layout path this test is not about.
    @Test("a tied Q8_0 output is repacked and looked up in the copy, with the same logits", arguments: [1, 2])
    func tiedQ8Output(threads: Int) throws {
        let repacked = try Self.load(repacking: true, threads: threads, tied: true, type: .q8_0)
        #expect(repacked.output.layout == .interleaved8)
        #expect(repacked.tokenEmbedding.layout == .interleaved8)
        #expect(repacked.layers.first?.query.layout == .interleaved8)
        let mapped = try Self.load(repacking: false, threads: threads, tied: true, type: .q8_0)
        #expect(mapped.output.layout == .ggml && mapped.tokenEmbedding.layout == .ggml)
        // the lookup alone: every row from the copy equals the mapped row
        let width = repacked.hyperparameters.embeddingSize
        var a = [Float](repeating: .nan, count: width), b = [Float](repeating: 0, count: width)
        for token in 0..<repacked.vocabularySize {
            repacked.tokenEmbedding.row(token, into: &a)
            mapped.tokenEmbedding.row(token, into: &b)
            #expect(a == b, "token \(token)")
        }
        let difference = Self.difference(try Self.run(repacked, promptByToken: true), try Self.run(mapped, promptByToken: true))
        #expect(difference <= 1e-4, "threads \(threads)")
    }

    @Test("an untied Q8_0 model keeps its embedding mapped and repacks the output")
    func untiedQ8() throws {
        let repacked = try Self.load(repacking: true, type: .q8_0)
        #expect(repacked.output.layout == .interleaved8 && repacked.tokenEmbedding.layout == .ggml)
        let mapped = try Self.load(repacking: false, type: .q8_0)
        #expect(Self.difference(try Self.run(repacked, promptByToken: true), try Self.run(mapped, promptByToken: true)) <= 1e-4)
    }
}

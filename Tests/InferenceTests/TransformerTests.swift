import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

@Suite("Transformer forward pass")
struct TransformerTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111]

    /// An F32 KV cache unless asked: the reference keeps keys and values exact.
    func load(_ model: SyntheticModel, threads: Int = 1, maxBatch: Int = 64,
              kvType: KVCacheType = .f32) throws -> (Transformer, GGUFFile) {
        let file = try GGUFFile(path: try model.write())
        return (try Transformer(file: file, options: ModelOptions(threads: threads, maxBatch: maxBatch, kvType: kvType)), file)
    }

    @Test("A tiny F32 model's logits match a plain Double reference at every position",
          arguments: [1, 2])
    func matchesReference(threads: Int) throws {
        let model = SyntheticModel()
        let (transformer, file) = try load(model, threads: threads)
        let expected = ReferenceTransformer(file: file, model: model).logits(Self.prompt)
        let logits = try transformer.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        let vocabulary = transformer.vocabularySize
        var worst = 0.0
        for (t, row) in expected.enumerated() {
            for (i, value) in row.enumerated() { worst = max(worst, abs(Double(logits[t * vocabulary + i]) - value)) }
        }
        #expect(worst < 1e-4, "max |engine − reference| = \(worst)")
    }

    @Test("Tied output weights use the token embeddings")
    func tiedOutput() throws {
        var model = SyntheticModel()
        model.separateOutput = false
        let (transformer, file) = try load(model)
        let expected = ReferenceTransformer(file: file, model: model).logits(Self.prompt).last!
        let logits = try transformer.evaluate(BatchEntry.prompt(Self.prompt))
        let worst = zip(logits, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-4)
    }

    @Test("Evaluating a prompt in one batch equals evaluating it token by token")
    func batchedEqualsIncremental() throws {
        let (batched, _) = try load(SyntheticModel())
        let (incremental, _) = try load(SyntheticModel(), maxBatch: 1)
        let all = try batched.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        var stepwise: [Float] = []
        for (i, token) in Self.prompt.enumerated() {
            stepwise += try incremental.evaluate([BatchEntry(token: token, position: i, wantsLogits: true)])
        }
        let worst = zip(all, stepwise).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4)
    }

    @Test("Two sequences in one batch give the same logits as each alone")
    func sequencesAreIndependent() throws {
        let (transformer, _) = try load(SyntheticModel(), threads: 2)
        let a: [Int32] = [10, 20, 30, 40], b: [Int32] = [50, 60, 70]
        let aloneA = try transformer.evaluate(BatchEntry.prompt(a, sequence: 1))
        let aloneB = try transformer.evaluate(BatchEntry.prompt(b, sequence: 2))
        transformer.cache.remove(1)
        transformer.cache.remove(2)
        let mixed = try transformer.evaluate(BatchEntry.prompt(a, sequence: 1) + BatchEntry.prompt(b, sequence: 2))
        #expect(zip(mixed, aloneA + aloneB).map { abs($0 - $1) }.max()! < 1e-5)
        // And a decode step for both at once continues each correctly.
        let step = try transformer.evaluate([
            BatchEntry(token: 5, position: 4, sequence: 1, wantsLogits: true),
            BatchEntry(token: 6, position: 3, sequence: 2, wantsLogits: true),
        ])
        let (solo, _) = try load(SyntheticModel())
        let soloA = try solo.evaluate(BatchEntry.prompt(a + [5], sequence: 9))
        #expect(zip(step.prefix(solo.vocabularySize), soloA).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test("Q8_0 weights stay close to the F32 model they were rounded from")
    func quantizedIsClose() throws {
        var model = SyntheticModel()
        let (f32, _) = try load(model)
        model.weightType = .q8_0
        let (q8, _) = try load(model)
        let a = try f32.evaluate(BatchEntry.prompt(Self.prompt))
        let b = try q8.evaluate(BatchEntry.prompt(Self.prompt))
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        let spread = (a.max()! - a.min()!)
        #expect(worst < 0.05 * spread, "max difference \(worst) against a logit spread of \(spread)")
    }
}

@Suite("Transformer input checks")
struct TransformerInputTests {
    @Test("A token outside the vocabulary is refused")
    func badToken() throws {
        let t = try Transformer(file: GGUFFile(path: SyntheticModel().write()))
        #expect(throws: InferenceError.self) { try t.evaluate([BatchEntry(token: 100_000, position: 0)]) }
        #expect(throws: InferenceError.self) { try t.evaluate([BatchEntry(token: -1, position: 0)]) }
    }

    @Test("A sequence must continue where it stopped")
    func positionsMustBeContiguous() throws {
        let t = try Transformer(file: GGUFFile(path: SyntheticModel().write()))
        #expect(throws: InferenceError.self) { try t.evaluate([BatchEntry(token: 1, position: 3)]) }
        _ = try t.evaluate(BatchEntry.prompt([1, 2, 3]))
        #expect(throws: InferenceError.self) { try t.evaluate([BatchEntry(token: 1, position: 1)]) }
        t.cache.truncate(0, to: 1)
        _ = try t.evaluate([BatchEntry(token: 1, position: 1, wantsLogits: true)])
    }

    @Test("A full context is an error, not a crash")
    func contextFull() throws {
        var model = SyntheticModel()
        model.contextLength = 8
        let t = try Transformer(file: GGUFFile(path: model.write()))
        _ = try t.evaluate(BatchEntry.prompt(Array(repeating: 1, count: 8)))
        #expect(throws: InferenceError.self) { try t.evaluate([BatchEntry(token: 1, position: 8)]) }
    }

    @Test("A missing tensor is named in the error")
    func missingTensor() throws {
        var model = SyntheticModel()
        model.omittedTensors = ["blk.1.ffn_up.weight"]
        let file = try GGUFFile(path: model.write())
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains("blk.1.ffn_up.weight") == true)
    }

    @Test("An unknown architecture is named in the error")
    func unknownArchitecture() throws {
        var model = SyntheticModel()
        model.architecture = "mamba"
        let file = try GGUFFile(path: model.write())
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains("mamba") == true)
    }
}

@Suite("Prompt attention blocks in the forward pass")
struct PromptAttentionBlockTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100, 33, 10, 65, 66, 67, 68, 69, 70, 71, 72, 73]

    /// A prompt split as a 6-token prefix then 17 tokens continuing it (F16
    /// cache, the default) equals the same tokens one at a time.
    @Test("A prompt continuing a cached prefix equals token-by-token evaluation",
          arguments: [1, 3, 4, 8])
    func continuedPromptEqualsIncremental(ratio: Int) throws {
        var model = SyntheticModel()
        model.kvHeads = 2
        model.heads = 2 * ratio
        model.keyLength = 32
        let path = try model.write(named: "block-gqa\(ratio)")
        let batched = try Transformer(file: try GGUFFile(path: path), options: ModelOptions(threads: 2, maxBatch: 64, kvType: .f16))
        let single = try Transformer(file: try GGUFFile(path: path), options: ModelOptions(threads: 1, maxBatch: 1, kvType: .f16))
        let prefix = Array(Self.prompt[..<6]), rest = Array(Self.prompt[6...])
        var all = try batched.evaluate(BatchEntry.prompt(prefix, allLogits: true))
        all += try batched.evaluate(BatchEntry.prompt(rest, start: prefix.count, allLogits: true))
        var stepwise: [Float] = []
        for (i, token) in Self.prompt.enumerated() {
            stepwise += try single.evaluate([BatchEntry(token: token, position: i, wantsLogits: true)])
        }
        try #require(all.count == stepwise.count)
        let worst = zip(all, stepwise).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-3, "GQA ratio \(ratio): max |batched − stepwise| = \(worst)")
    }
}

import Foundation
import GGUF
import Testing
import TestSupport
@testable import Inference

@Suite("Dense families beyond Llama: Gemma 2/3, Phi-3, Llama 3.1")
struct FamilyTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100]

    func load(_ model: SyntheticModel, threads: Int = 1) throws -> (Transformer, GGUFFile) {
        let file = try GGUFFile(path: try model.write(named: "family-\(model.architecture)"))
        return (try Transformer(file: file, options: ModelOptions(threads: threads, kvType: .f32)), file)
    }

    func worst(_ engine: [Float], _ reference: [[Double]], vocabulary: Int) -> Double {
        var worst = 0.0
        for (t, row) in reference.enumerated() {
            for (i, value) in row.enumerated() { worst = max(worst, abs(Double(engine[t * vocabulary + i]) - value)) }
        }
        return worst
    }

    func allLogits(_ t: Transformer) throws -> [Float] {
        try t.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
    }

    // GeGLU models are held to 2e-3: the engine's GELU reads ggml's
    // half-precision table, and a gate value within a rounding of a half
    // boundary lands on either side depending on the product's last bit,
    // which the Double reference does not share. A wrong norm, window or
    // RoPE base moves logits by 0.1 to 1.
    @Test("Gemma 3 (√d embeddings, post-norms, q/k norms, 5 local : 1 global layers with their own RoPE) matches the reference",
          arguments: [1, 2])
    func gemma3(threads: Int) throws {
        let model = SyntheticModel.gemma3()
        let (t, file) = try load(model, threads: threads)
        #expect(t.plan.windows == [4, 4, 4, 4, 4, 0, 4])
        let difference = worst(try allLogits(t), FamilyReference.gemma3(file, model).logits(Self.prompt), vocabulary: t.vocabularySize)
        #expect(difference < 2e-3, "max |engine − reference| = \(difference)")
    }

    @Test("Gemma 1 (GeGLU, √d embeddings, tied output, no post-norms) matches the reference")
    func gemma1() throws {
        var model = SyntheticModel()
        model.architecture = "gemma"
        model.separateOutput = false
        let (t, file) = try load(model)
        var reference = FamilyReference(file: file, model: model)
        (reference.geglu, reference.embeddingScale) = (true, Double(model.embedding).squareRoot())
        let difference = worst(try allLogits(t), reference.logits(Self.prompt), vocabulary: t.vocabularySize)
        #expect(difference < 2e-3, "max |engine − reference| = \(difference)")
    }

    @Test("Gemma 2 (attention and final soft caps, alternating windows) matches the reference")
    func gemma2() throws {
        let model = SyntheticModel.gemma2()
        let (t, file) = try load(model)
        #expect(t.plan.windows == [4, 0, 4, 0])
        #expect(t.plan.softCap == 4 && t.plan.finalSoftCap == 3)
        let logits = try allLogits(t)
        #expect(logits.allSatisfy { abs($0) < 3 }, "final soft cap bounds every logit by 3")
        let reference = FamilyReference.gemma2(file, model, attentionCap: 4, finalCap: 3).logits(Self.prompt)
        let difference = worst(logits, reference, vocabulary: t.vocabularySize)
        #expect(difference < 2e-3, "max |engine − reference| = \(difference)")
    }

    @Test("Phi-3 (fused qkv and gate|up, partial RoPE, LongRoPE long factors and attention factor) matches the reference")
    func phi3() throws {
        let model = SyntheticModel.phi3()
        let (t, file) = try load(model)
        #expect(t.plan.globalRope.factors == [1.0, 1.5, 2.0, 3.0, 3.5, 4.0])
        let difference = worst(try allLogits(t), FamilyReference.phi3(file, model).logits(Self.prompt), vocabulary: t.vocabularySize)
        #expect(difference < 1e-4, "max |engine − reference| = \(difference)")
    }

    @Test("Phi-3 with a context within the original one uses the short LongRoPE factors, still with the attention factor")
    func phi3ShortFactors() throws {
        let file = try GGUFFile(path: SyntheticModel.phi3().write(named: "phi3-short"))
        let t = try Transformer(file: file, options: ModelOptions(contextLength: 32, kvType: .f32))
        #expect(t.plan.globalRope.factors == [1.0, 1.01, 1.02, 1.03, 1.04, 1.05])
        #expect(t.plan.globalRope.magnitude == 1.1)
    }

    @Test("Llama 3.1's rope_freqs divide each pair's angle")
    func llama31() throws {
        let model = SyntheticModel.llama31()
        let (t, file) = try load(model)
        var reference = FamilyReference(file: file, model: model)
        (reference.globalBase, reference.factors) = (500_000, [1, 1, 1.5, 2.5, 4, 6, 8, 8])
        let difference = worst(try allLogits(t), reference.logits(Self.prompt, halves: false), vocabulary: t.vocabularySize)
        #expect(difference < 1e-4, "max |engine − reference| = \(difference)")
    }
}

@Suite("Sliding windows, soft caps and GELU")
struct AttentionFeatureTests {
    @Test("A one-layer model with a 4-position window gives the last token the logits of the last four tokens alone")
    func windowLimitsAttention() throws {
        var model = SyntheticModel()
        model.layers = 1
        model.extraKeys = [("attention.sliding_window", .uint32(4))]
        let windowed = try Transformer(file: GGUFFile(path: model.write(named: "window-4")), options: ModelOptions(kvType: .f32))
        #expect(windowed.plan.windows == [4])
        let tokens: [Int32] = [10, 20, 30, 40, 50, 60, 70, 80]
        let all = try windowed.evaluate(BatchEntry.prompt(tokens))
        let tail = try windowed.evaluate(BatchEntry.prompt(Array(tokens.suffix(4)), sequence: 1))
        #expect(zip(all, tail).map { abs($0 - $1) }.max()! < 1e-4, "RoPE is relative: only the window matters")
        model.extraKeys = []
        let full = try Transformer(file: GGUFFile(path: model.write(named: "window-none")), options: ModelOptions(kvType: .f32))
        let unwindowed = try full.evaluate(BatchEntry.prompt(tokens))
        #expect(zip(all, unwindowed).map { abs($0 - $1) }.max()! > 1e-2, "without the key every position is attended")
    }

    @Test("With a sliding window, a prompt in one batch equals the same prompt decoded token by token")
    func windowBatchedEqualsIncremental() throws {
        var model = SyntheticModel()
        model.extraKeys = [("attention.sliding_window", .uint32(3))]
        let path = try model.write(named: "window-3")
        let batched = try Transformer(file: GGUFFile(path: path), options: ModelOptions(maxBatch: 64, kvType: .f32))
        let stepwise = try Transformer(file: GGUFFile(path: path), options: ModelOptions(maxBatch: 1, kvType: .f32))
        let prompt = FamilyTests.prompt
        let all = try batched.evaluate(BatchEntry.prompt(prompt, allLogits: true))
        var steps: [Float] = []
        for (i, token) in prompt.enumerated() {
            steps += try stepwise.evaluate([BatchEntry(token: token, position: i, wantsLogits: true)])
        }
        #expect(zip(all, steps).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test("A per-layer sliding_window_pattern array overrides the family's period")
    func patternArray() throws {
        var model = SyntheticModel.gemma2()
        model.extraKeys.append(("attention.sliding_window_pattern", .array(GGUFArray([false, true, true, false]))))
        let t = try Transformer(file: GGUFFile(path: model.write(named: "pattern-array")))
        #expect(t.plan.windows == [0, 4, 4, 0])
    }

    @Test("Phi-3 ignores the sliding window its files state, as llama.cpp does")
    func phi3IgnoresWindow() throws {
        var model = SyntheticModel.phi3()
        model.extraKeys.append(("attention.sliding_window", .uint32(4)))
        let t = try Transformer(file: GGUFFile(path: model.write(named: "phi3-window")))
        #expect(t.plan.windows == [0, 0])
    }

    @Test("Gemma 2 without soft-cap keys uses the family's 50 and 30")
    func gemma2DefaultCaps() throws {
        var model = SyntheticModel.gemma2()
        model.extraKeys = [("attention.sliding_window", .uint32(4))]
        let t = try Transformer(file: GGUFFile(path: model.write(named: "gemma2-default-caps")))
        #expect(t.plan.softCap == 50 && t.plan.finalSoftCap == 30)
    }

    @Test("Gemma 3 applies a final soft cap only when its file states one, and never an attention cap")
    func gemma3Caps() throws {
        #expect(try Transformer(file: GGUFFile(path: SyntheticModel.gemma3().write(named: "gemma3-nocap"))).plan.finalSoftCap == nil)
        var model = SyntheticModel.gemma3()
        model.extraKeys += [("final_logit_softcapping", .float32(5)), ("attn_logit_softcapping", .float32(2))]
        let t = try Transformer(file: GGUFFile(path: model.write(named: "gemma3-caps")))
        #expect(t.plan.finalSoftCap == 5 && t.plan.softCap == nil)
    }

    @Test("Llama 3.1 scaling stated as keys equals the converter's rope_freqs tensor computed from them")
    func llama3Keys() throws {
        var keyed = SyntheticModel.llama31()
        keyed.extraVectors = []
        keyed.extraKeys = [("rope.scaling.type", .string("llama3")), ("rope.scaling.factor", .float32(8)),
                           ("rope.scaling.original_context_length", .uint32(64))]
        // The converter's formula, in Double: low 1, high 4, original context 64.
        let factors: [Float] = stride(from: 0, to: 16, by: 2).map { i in
            let wavelength = 2 * Double.pi * pow(500_000, Double(i) / 16)
            if wavelength < 64 / 4 { return 1 }
            if wavelength > 64 / 1 { return 8 }
            let smooth = (64 / wavelength - 1) / 3
            return Float(1 / ((1 - smooth) / 8 + smooth))
        }
        var tensor = SyntheticModel.llama31()
        tensor.extraVectors = [("rope_freqs.weight", factors)]
        let a = try Transformer(file: GGUFFile(path: keyed.write(named: "llama3-keys")))
        let b = try Transformer(file: GGUFFile(path: tensor.write(named: "llama3-tensor")))
        #expect(a.plan.globalRope.factors == factors && a.plan.globalRope.scale == 1)
        let la = try a.evaluate(BatchEntry.prompt(FamilyTests.prompt)), lb = try b.evaluate(BatchEntry.prompt(FamilyTests.prompt))
        #expect(zip(la, lb).map { abs($0 - $1) }.max()! < 1e-6)
    }

    @Test("A RoPE scaling type the engine cannot compute is refused, naming the key")
    func yarnRefused() throws {
        var model = SyntheticModel()
        model.extraKeys = [("rope.scaling.type", .string("yarn"))]
        let file = try GGUFFile(path: model.write(named: "yarn"))
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains("llama.rope.scaling.type") == true)
    }

    @Test("Hostile attention keys and RoPE factors are refused, naming the key or tensor",
          arguments: [("attention.sliding_window_pattern", "pattern"), ("rope_freqs.weight", "factor"),
                      ("attn_logit_softcapping", "cap")])
    func hostileKeys(name: String, kind: String) throws {
        var model = SyntheticModel.gemma2()
        switch kind {
        case "pattern": model.extraKeys.append((name, .array(GGUFArray([true, false]))))   // 2 flags, 4 layers
        case "factor": model = SyntheticModel.llama31(); model.extraVectors = [(name, [1, 1, -2, 1, 1, 1, 1, 1])]
        default: model.extraKeys = [(name, .float32(-Float.infinity))]
        }
        let file = try GGUFFile(path: model.write(named: "hostile-\(kind)"))
        let error = #expect(throws: InferenceError.self) { try Transformer(file: file) }
        #expect(error?.description.contains(name) == true, "\(error?.description ?? "no error")")
    }

    @Test("GELU reads ggml's half table: exact for half inputs, clamped beyond ±10, within 4e-3 of the formula")
    func geluTable() throws {
        let inputs: [Float] = stride(from: -12, through: 12, by: 0.0137).map { Float($0) }
        var gate = inputs
        let ones = [Float](repeating: 1, count: inputs.count)
        geluMultiply(&gate, ones, count: inputs.count)
        for (x, g) in zip(inputs, gate) {
            if x <= -10 { #expect(g == 0) } else if x >= 10 { #expect(g == x) } else {
                #expect(g == Float(Float16(geluTanh(Float(Float16(x))))))
                let exact = 0.5 * Double(x) * (1 + tanh((2 / Double.pi).squareRoot() * Double(x) * (1 + 0.044715 * Double(x * x))))
                #expect(abs(Double(g) - exact) <= 4e-3 * max(1, abs(exact)), "gelu(\(x))")
            }
        }
    }

    @Test("Soft-capped attention equals c·tanh(s/c) scores through a softmax")
    func softCappedHead() {
        let size = 8, length = 5
        var random = SeededRandom(seed: 7)
        let q = (0..<size).map { _ in 3 * random.nextSigned() }
        let keys = (0..<(size * length)).map { _ in 3 * random.nextSigned() }
        let values = (0..<(size * length)).map { _ in random.nextSigned() }
        var scores = [Float](repeating: 0, count: length), out = [Float](repeating: 0, count: size)
        attendHeadSoftCapped(query: q, keys: keys, values: values, stride: size, length: length, size: size,
                             scale: 0.5, cap: 2, scores: &scores, into: &out)
        let s = (0..<length).map { j in (0..<size).reduce(0.0) { $0 + Double(q[$1] * keys[j * size + $1]) } * 0.5 }
        let capped = s.map { 2 * tanh($0 / 2) }, e = capped.map { exp($0 - capped.max()!) }, total = e.reduce(0, +)
        for i in 0..<size {
            let expected = (0..<length).reduce(0.0) { $0 + e[$1] / total * Double(values[$1 * size + i]) }
            #expect(abs(Double(out[i]) - expected) < 1e-5)
        }
    }

    @Test("Every supported architecture name maps to a family and an unknown one does not")
    func supportedNames() {
        for name in Architecture.supportedNames { #expect(Architecture.isSupported(name), "\(name)") }
        #expect(Architecture.supportedNames.contains("gemma3") && Architecture.supportedNames.contains("phi3"))
        #expect(!Architecture.isSupported("mamba"))
    }
}

import Foundation
import Testing
import TestSupport
@testable import Inference

/// The default model (SmolLM2-135M-Instruct Q4_1, installed by the set-up
/// script) checked against llama.cpp's view of the same file, recorded in
/// Golden/smollm2-q4_1.json by tools/golden/record_llama.py.
///
/// Quantized activations make two correct engines drift by O(1) logits, so
/// the bar is llama.cpp's: identical tokens, top-1 agreement where llama.cpp
/// is confident, and perplexity within 1 %.
@Suite("SmolLM2 against llama.cpp's recorded outputs", .serialized, DefaultModel.isInstalled)
struct RealModelTests {
    struct Golden: Decodable {
        struct Tokenized: Decodable { var text: String; var tokens: [Int32] }
        struct Prompt: Decodable { var text: String; var tokens: [Int32]; var continuation: [Int32]; var top1: [Int32]; var margin: [Double] }
        struct Perplexity: Decodable { var text: String; var tokens: [Int32]; var perplexity: Double }
        var model_sha256: String
        var tokenize: [Tokenized]
        var prompts: [Prompt]
        var perplexity: Perplexity
    }

    static let golden: Golden = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/smollm2-q4_1.json")
        return try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }()

    static let model: Result<LanguageModel, Error>? = DefaultModel.path.map { path in
        Result { try LanguageModel(path: path, options: ModelOptions(threads: 2, contextLength: 1024)) }
    }

    /// The loaded model; a missing or unreadable file fails the test.
    static func loadedModel() throws -> LanguageModel {
        try #require(model, DefaultModel.missing).get()
    }

    @Test("Tokenization is identical to llama.cpp's")
    func tokenization() throws {
        let lm = try Self.loadedModel()
        try #require(!Self.golden.tokenize.isEmpty && !Self.golden.prompts.isEmpty)
        for g in Self.golden.tokenize {
            #expect(lm.tokenizer.encode(g.text, addSpecial: true, parseSpecial: true) == g.tokens, "\(g.text.debugDescription)")
        }
        for p in Self.golden.prompts {
            #expect(lm.tokenize(raw: p.text) == p.tokens, "\(p.text.debugDescription)")
        }
    }

    @Test("Top-1 predictions agree with llama.cpp where it is confident, along its greedy continuations")
    func teacherForcedAgreement() throws {
        let lm = try Self.loadedModel()
        var confident = 0, agree = 0
        for p in Self.golden.prompts {
            let scored = try lm.score(p.tokens + p.continuation)
            for (i, margin) in p.margin.enumerated() where margin >= 0.5 {
                confident += 1
                if scored.predictions[i] == p.top1[i] { agree += 1 }
            }
        }
        let rate = Double(agree) / Double(confident)
        #expect(confident > 150)
        #expect(rate >= 0.98, "agreement \(agree)/\(confident)")
    }

    @Test("Perplexity is within 1 % of llama.cpp's on the same tokens")
    func perplexity() throws {
        let lm = try Self.loadedModel()
        let g = Self.golden.perplexity
        let ours = try lm.score(g.tokens).perplexity
        #expect(abs(ours - g.perplexity) / g.perplexity < 0.01, "ours \(ours), llama.cpp \(g.perplexity)")
    }
}

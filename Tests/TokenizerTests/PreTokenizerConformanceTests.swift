// Token ids against llama.cpp for the pre-tokenizers added after the first
// four families (gpt-4o, llama4, tekken, deepseek-*, chatglm, …): the
// default model's byte-level BPE vocabulary with `tokenizer.ggml.pre` set to
// each name and low-rank "glue" merges appended (see the script), on the
// torture list. Data/pretokenizer-ids.json was made by
// tools/conformance/pretokenizer_ids.py with llama-cpp-python 0.3.36.

import Foundation
import GGUF
import Testing
@testable import Tokenizer

struct PreTokenizerConformanceTests {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static var modelPath: String {
        ProcessInfo.processInfo.environment["MOED_TEST_MODEL"]
            ?? testsFolder.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    /// Read once: the vocabulary and merges are shared by every case.
    static let vocabulary: Result<Vocabulary, any Error> = Result {
        try Vocabulary(metadata: GGUFFile(path: modelPath).metadata)
    }

    struct Reference {
        var glueMerges: [String]
        var texts: [String]
        var ids: [String: [[Int32]]]
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: testsFolder.appendingPathComponent("Data/pretokenizer-ids.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let texts = try #require(root["texts"] as? [String])
        let raw = try #require(root["ids"] as? [String: [[Int]]])
        let glue = try #require(root["glue_merges"] as? [String])
        return Reference(glueMerges: glue, texts: texts, ids: raw.mapValues { $0.map { $0.map { Int32($0) } } })
    }

    @Test("each new pre-tokenizer gives llama.cpp's token ids on the torture list",
          arguments: ["gpt-4o", "llama4", "minimax-m2", "tekken", "chatglm-bpe", "glm4", "grok-2", "hunyuan",
                     "deepseek-llm", "deepseek-coder", "deepseek-v3", "hunyuan-dense", "bloom", "poro-chat",
                     "gpt3-finnish", "viking"])
    func sameIDsAsLlamaCpp(name: String) throws {
        guard FileManager.default.fileExists(atPath: Self.modelPath) else {
            print("skipped: \(Self.modelPath) not found (scripts/default-models.sh downloads it)")
            return
        }
        let reference = try Self.reference()
        let expected = try #require(reference.ids[name], "no reference ids for \(name)")
        var vocabulary = try Self.vocabulary.get()
        vocabulary.preTokenizer = name
        // The glue merges the script appended, so words split differently tokenize differently.
        for merge in reference.glueMerges {
            vocabulary.tokens.append(merge.replacingOccurrences(of: " ", with: ""))
            vocabulary.merges.append(merge)
            if !vocabulary.tokenTypes.isEmpty { vocabulary.tokenTypes.append(.normal) }
            if !vocabulary.scores.isEmpty { vocabulary.scores.append(0) }
        }
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        var differences = 0
        for (text, want) in zip(reference.texts, expected) {
            let got = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            if got != want {
                differences += 1
                Issue.record("\(name): \(text.debugDescription): ours \(got.prefix(16)) vs llama.cpp \(want.prefix(16))")
            }
        }
        #expect(differences == 0)
        #expect(expected.count == reference.texts.count)
    }
}

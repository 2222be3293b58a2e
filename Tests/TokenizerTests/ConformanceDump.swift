// Manual conformance run against llama.cpp, skipped unless asked for:
//   MOED_TOKENIZER_DUMP=in.json swift test --filter ConformanceDump
// in.json is {"model": PATH, "texts": [...], "output": PATH}; the output
// lists, per text, our tokens with parse_special off and on, and the
// detokenized text. A script outside the test suite compares them with
// llama-cpp-python (no Python dependency in the tests themselves).

import Foundation
import GGUF
import Testing
@testable import Tokenizer

@Suite("ConformanceDump")
struct ConformanceDump {
    struct Input: Decodable {
        let model: String
        let texts: [String]
        let output: String
    }

    struct Row: Encodable {
        let plain: [Int32]
        let special: [Int32]
        let decoded: String
    }

    @Test("dump tokenizations for a model file",
          .enabled(if: ProcessInfo.processInfo.environment["MOED_TOKENIZER_DUMP"] != nil))
    func dump() throws {
        let path = try #require(ProcessInfo.processInfo.environment["MOED_TOKENIZER_DUMP"])
        let input = try JSONDecoder().decode(Input.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let tokenizer = try Tokenizer(file: GGUFFile(path: input.model))
        let rows = input.texts.map { text in
            let plain = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
            return Row(plain: plain,
                       special: tokenizer.encode(text, addSpecial: true, parseSpecial: true),
                       decoded: tokenizer.decode(plain, renderSpecial: false))
        }
        try JSONEncoder().encode(rows).write(to: URL(fileURLWithPath: input.output))
    }
}

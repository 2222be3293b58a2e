// Reading a tokenizer from GGUF metadata, with a file made in code.

import GGUF
import Testing
@testable import Tokenizer

@Suite("Tokenizer from GGUF")
struct TokenizerGGUFTests {
    private func file(model: String = "gpt2", _ edit: (inout GGUFWriter) throws -> Void = { _ in }) throws -> GGUFFile {
        var writer = try GGUFWriter()
        try writer.set("tokenizer.ggml.model", .string(model))
        try writer.set("tokenizer.ggml.pre", .string("smollm"))
        try writer.set("tokenizer.ggml.tokens", .array(GGUFArray(["<|endoftext|>", "h", "i", "hi", "Ġ"])))
        try writer.set("tokenizer.ggml.token_type", .array(GGUFArray([Int32(3), 1, 1, 1, 1])))
        try writer.set("tokenizer.ggml.merges", .array(GGUFArray(["h i"])))
        try writer.set("tokenizer.ggml.eos_token_id", .uint32(0))
        try edit(&writer)
        return try GGUFFile(bytes: writer.serialized())
    }

    @Test("a BPE vocabulary is read with its merges, pre-tokenizer and special ids")
    func readsBPE() throws {
        let tokenizer = try Tokenizer(file: file())
        #expect(tokenizer.model == .bytePairEncoding)
        #expect(tokenizer.preTokenizer?.name == "smollm")
        #expect(tokenizer.eos == 0)
        #expect(tokenizer.vocabularySize == 5)
        #expect(tokenizer.encode("hi hi", addSpecial: true) == [3, 4, 3])
        #expect(tokenizer.isEndOfGeneration(0))
    }

    @Test("an out-of-range special id from the file is ignored")
    func outOfRangeID() throws {
        let tokenizer = try Tokenizer(file: file { try $0.set("tokenizer.ggml.eot_token_id", .uint32(99)) })
        #expect(tokenizer.eot == 0)  // falls back to <|endoftext|> by name, as llama.cpp
    }

    @Test("an unsupported model name is an error naming it")
    func unknownModel() throws {
        let gguf = try file(model: "rwkv")
        #expect(throws: TokenizerError(.unknownModel("rwkv"))) { try Tokenizer(file: gguf) }
    }
}

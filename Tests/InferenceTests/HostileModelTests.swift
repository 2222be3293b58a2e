import GGUF
import Testing
import TestSupport
@testable import Inference

/// A GGUF file that parses can still lie about its shape. Every such lie must
/// end in an error that names what is wrong — never a crash, a hang or a
/// huge allocation.
@Suite("Hostile hyperparameters")
struct HostileModelTests {
    static let base: String = try! SyntheticModel().write(named: "hostile-base")

    /// The base model with one metadata value replaced (or added).
    static func rewrite(_ key: String, _ value: GGUFValue) throws -> String {
        let file = try GGUFFile(path: base)
        var w = try GGUFWriter()
        for (k, v) in file.metadata where k != key { try w.set(k, v) }
        try w.set(key, value)
        for t in file.tensors {
            try w.addTensor(name: t.name, shape: t.shape, type: t.type, bytes: Array(file.data(of: t)))
        }
        let path = TemporaryFiles.path("hostile.gguf")
        try w.write(toFile: path)
        return path
    }

    static let cases: [(String, GGUFValue)] = [
        ("llama.embedding_length", .uint32(0)),
        ("llama.embedding_length", .uint32(65)),
        ("llama.embedding_length", .uint32(1 << 23)),
        ("llama.embedding_length", .uint64(UInt64.max)),
        ("llama.block_count", .uint32(0)),
        ("llama.block_count", .uint32(3)),
        ("llama.block_count", .uint32(1 << 30)),
        ("llama.attention.head_count", .uint32(0)),
        ("llama.attention.head_count", .uint32(3)),
        ("llama.attention.head_count", .uint32(64)),
        ("llama.attention.head_count_kv", .uint32(0)),
        ("llama.attention.head_count_kv", .uint32(3)),
        ("llama.attention.head_count_kv", .uint32(8)),
        ("llama.context_length", .uint32(0)),
        ("llama.context_length", .uint32(UInt32.max)),
        ("llama.rope.dimension_count", .uint32(7)),
        ("llama.rope.dimension_count", .uint32(1000)),
        ("llama.feed_forward_length", .uint32(0)),
        ("llama.feed_forward_length", .uint32(129)),
        ("llama.attention.layer_norm_rms_epsilon", .float32(-1)),
        ("llama.attention.layer_norm_rms_epsilon", .float32(.nan)),
        ("llama.rope.freq_base", .float32(.infinity)),
        ("llama.expert_count", .uint32(4)),
        ("llama.expert_used_count", .uint32(2)),
        ("llama.vocab_size", .uint32(1 << 20)),
        ("llama.attention.key_length", .uint32(1 << 20)),
        ("llama.embedding_length", .string("sixty-four")),
        ("general.architecture", .uint32(7)),
    ]

    @Test("A lie about the model's shape is refused with an error", arguments: cases)
    func refused(key: String, value: GGUFValue) throws {
        let path = try Self.rewrite(key, value)
        #expect(throws: (any Error).self) { try LanguageModel(path: path, options: ModelOptions(threads: 1)) }
    }

    @Test("The unmodified base model loads (so the refusals above are about the lie)")
    func baseLoads() throws {
        _ = try LanguageModel(path: Self.rewrite("general.name", .string("same")), options: ModelOptions(threads: 1))
    }
}

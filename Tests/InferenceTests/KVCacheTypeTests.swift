import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

/// F16 and Q8_0 KV caches against the exact (Double, unrounded cache)
/// reference, and the cache's byte accounting.
@Suite("KV cache types")
struct KVCacheTypeTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100]

    /// A model whose heads are 32 wide, so Q8_0 blocks fit them.
    static var model: SyntheticModel {
        var m = SyntheticModel()
        m.embedding = 128
        return m
    }

    func worstDifference(_ type: KVCacheType) throws -> Double {
        let file = try GGUFFile(path: try Self.model.write())
        let transformer = try Transformer(file: file, options: ModelOptions(kvType: type))
        let expected = ReferenceTransformer(file: file, model: Self.model).logits(Self.prompt)
        let logits = try transformer.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        var worst = 0.0
        for (t, row) in expected.enumerated() {
            for (i, value) in row.enumerated() {
                worst = max(worst, abs(Double(logits[t * transformer.vocabularySize + i]) - value))
            }
        }
        return worst
    }

    /// Logits here reach ±11. F16 keeps 11 bits of each key and value (seen:
    /// 0.012 off); Q8_0's step is 1/127 of a block's largest value, which
    /// this random model's sharp attention turns into up to 0.6 off. The
    /// real check of the lossy types is perplexity against llama.cpp run
    /// with the same cache type (tools/conformance).
    @Test("an F32 cache is exact; F16 and Q8_0 stay within their rounding of the reference logits",
          arguments: [(KVCacheType.f32, 1e-4), (.f16, 3e-2), (.q8_0, 1.0)])
    func fidelity(type: KVCacheType, bound: Double) throws {
        let worst = try worstDifference(type)
        #expect(worst < bound, "\(type): max |engine − reference| = \(worst)")
    }

    @Test("Q8_0 is refused, naming why, when a head is not a whole number of blocks")
    func q8RefusedForNarrowHeads() throws {
        let file = try GGUFFile(path: try SyntheticModel().write())  // heads of 16
        #expect {
            _ = try Transformer(file: file, options: ModelOptions(kvType: .q8_0))
        } throws: { "\($0)".contains("kv_type") && "\($0)".contains("16") }
    }

    @Test("the cache allocates lazily, in doubling blocks, and counts what it holds", arguments: KVCacheType.allCases)
    func lazyAccounting(type: KVCacheType) throws {
        let file = try GGUFFile(path: try Self.model.write())
        let transformer = try Transformer(file: file, options: ModelOptions(kvType: type))
        let cache = transformer.cache
        #expect(cache.allocatedBytes == 0)
        _ = try transformer.evaluate(BatchEntry.prompt(Self.prompt))
        let perBlock = 2 * cache.layers * type.rowBytes(cache.kvWidth) * 64
        #expect(cache.allocatedBytes == perBlock)
        #expect(cache.bytes(forPositions: Self.prompt.count) == perBlock)
        #expect(cache.bytes(forPositions: 65) == 2 * perBlock)
        #expect(cache.bytes(forPositions: 10_000) == 2 * cache.layers * type.rowBytes(cache.kvWidth) * cache.contextLength)
        _ = try transformer.evaluate(BatchEntry.prompt(Self.prompt, sequence: 1))
        #expect(cache.allocatedBytes == 2 * perBlock)
        cache.remove(0)
        cache.remove(1)
        #expect(cache.allocatedBytes == 0)
    }
}

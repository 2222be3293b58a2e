import GGUF
import Testing
import TestSupport
@testable import Inference

/// The KV cache operations prefix reuse relies on: a sequence cut back to
/// a prefix, or a copy of a prefix in another sequence, continues exactly
/// as evaluating the whole prompt fresh.
@Suite("KV cache: truncate, copy and bytes for prefix reuse")
struct KVCachePrefixTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100]

    func load() throws -> Transformer {
        try Transformer(file: try GGUFFile(path: try SyntheticModel().write(named: "kv-prefix")), options: ModelOptions(maxBatch: 64))
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// How far a continued prompt's logits may be from a fresh prefill's:
    /// the continued rows go through prompt attention in other blocks of
    /// four (kernels/attention_block.c) than the fresh ones, so the scores
    /// are summed in another order (1.6e-5 seen at AVX2). A wrong position
    /// or a stale cached row moves them by tenths.
    static let tolerance: Float = 1e-4

    @Test("a truncated sequence continues as a fresh prefill of the new prompt")
    func truncateThenContinue() throws {
        let t = try load()
        let other: [Int32] = [50, 60, 70, 80]
        _ = try t.evaluate(BatchEntry.prompt(Array(Self.prompt.prefix(5)) + other, sequence: 1))
        t.cache.truncate(1, to: 5)
        #expect(t.cache.length(of: 1) == 5)
        let continued = try t.evaluate(BatchEntry.prompt(Array(Self.prompt.dropFirst(5)), sequence: 1, start: 5))
        let fresh = try t.evaluate(BatchEntry.prompt(Self.prompt, sequence: 2))
        #expect(maxDifference(continued, fresh) < Self.tolerance)
    }

    @Test("a copied prefix continues as a fresh prefill, and the source is unchanged")
    func copyThenContinue() throws {
        let t = try load()
        let source = try t.evaluate(BatchEntry.prompt(Self.prompt, sequence: 1))
        t.cache.copy(1, to: 2, count: 7)
        #expect(t.cache.length(of: 2) == 7 && t.cache.length(of: 1) == Self.prompt.count)
        let copied = try t.evaluate(BatchEntry.prompt(Array(Self.prompt.dropFirst(7)), sequence: 2, start: 7))
        #expect(maxDifference(copied, source) < Self.tolerance)
        // The source goes on from its own end.
        let next = try t.evaluate([BatchEntry(token: 33, position: Self.prompt.count, sequence: 1, wantsLogits: true)])
        let fresh = try t.evaluate(BatchEntry.prompt(Self.prompt + [33], sequence: 3))
        #expect(maxDifference(next, fresh) < Self.tolerance)
    }

    @Test("bytes count the blocks a sequence holds, kept when it is truncated")
    func bytes() throws {
        let t = try load()
        #expect(t.cache.bytes(of: 1) == 0)
        _ = try t.evaluate(BatchEntry.prompt(Self.prompt, sequence: 1))
        let held = t.cache.bytes(of: 1)
        #expect(held == 2 * t.cache.layers * 64 * t.cache.rowBytes)  // blocks start at 64 positions, rows in the cache's type
        t.cache.truncate(1, to: 2)
        #expect(t.cache.bytes(of: 1) == held)
        t.cache.copy(1, to: 2, count: 0)
        #expect(t.cache.length(of: 2) == 0 && t.cache.bytes(of: 2) == 0)
    }
}

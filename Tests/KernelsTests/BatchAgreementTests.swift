import GGUF
import Testing
@testable import Kernels

/// Every batched path (small batches, padded groups, prompt tiles, the
/// interleaved layout) computes the same integer block sums as decoding one
/// row at a time; only the order of float additions differs. So a batch of
/// m rows must match m one-row products to float rounding — far tighter
/// than the oracle tests' bound, which scales with Σ|w·x|.
@Suite("Batched products agree with one-row products")
struct BatchAgreementTests {
    static let rows = 40
    static let columns = 512

    @Test("m rows at once = m one-row products, to rounding", arguments: matrixTypes, [2, 3, 4, 5, 8, 12, 33])
    func agreement(type: GGMLType, m: Int) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) * 131 + UInt64(m))
        let weights = randomWeights(type, count: Self.rows * Self.columns, &rng)
        let input = randomFloats(m * Self.columns, &rng, scale: 2)
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            var batched = [Float](repeating: .nan, count: m * Self.rows)
            var single = [Float](repeating: .nan, count: m * Self.rows)
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: type, rows: Self.rows, columns: Self.columns,
                                   input: input, inputRows: m, output: &batched)
                for i in 0..<m {
                    try single.withUnsafeMutableBufferPointer { out in
                        try context.matmul(weights: w.baseAddress!, type: type, rows: Self.rows, columns: Self.columns,
                                           input: Array(input[i * Self.columns..<(i + 1) * Self.columns]), inputRows: 1,
                                           output: out.baseAddress! + i * Self.rows)
                    }
                }
            }
            let scale = single.map { abs($0) }.max() ?? 1
            var worst = 0 as Float, at = -1
            for k in 0..<single.count where abs(batched[k] - single[k]) > worst {
                worst = abs(batched[k] - single[k])
                at = k
            }
            #expect(worst <= 1e-5 * max(1, scale), "\(type) m=\(m) threads=\(threads): |Δ| \(worst) at \(at) (max |y| \(scale))")
        }
    }
}

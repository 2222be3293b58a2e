import GGUF
import Testing
@testable import Kernels

/// MatmulContext on interleaved weights: decode, small batches, prompt tiles
/// and groups mixing both layouts give what the same weights give in
/// ggml's layout (the paths tested in MatmulTests).
@Suite("Matrix products on interleaved weights")
struct InterleavedMatmulTests {
    static let rows = 40      // five groups: the threads' ranges split them unevenly
    static let columns = 256

    /// Output of the ggml-layout product, to compare with.
    static func ggmlProduct(_ weights: [UInt8], rows: Int, input: [Float], m: Int) throws -> [Float] {
        var output = [Float](repeating: .nan, count: m * rows)
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        try weights.withUnsafeBytes { w in
            try context.matmul(weights: w.baseAddress!, type: .q4_1, rows: rows, columns: columns,
                               input: input, inputRows: m, output: &output)
        }
        return output
    }

    /// The relative size of the largest difference, against the largest output.
    static func difference(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 1
        return zip(a, b).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
    }

    @Test("one matrix, m = 1…9, 17, 40, 70 (prompt tiles; 70 crosses a 64-row chunk), on 1 and 2 threads",
          arguments: [1, 2, 3, 4, 5, 6, 8, 9, 17, 40, 70])
    func single(m: Int) throws {
        var rng = SeededGenerator(seed: 5000 + UInt64(m))
        let weights = randomWeights(.q4_1, count: Self.rows * Self.columns, &rng)
        let packed = try InterleavedKernelTests.interleaved(weights, rows: Self.rows, count: Self.columns)
        let input = randomFloats(m * Self.columns, &rng, scale: 2)
        let expected = try Self.ggmlProduct(weights, rows: Self.rows, input: input, m: m)
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            var output = [Float](repeating: .nan, count: m * Self.rows)
            try packed.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: .q4_1, rows: Self.rows, columns: Self.columns,
                                   input: input, inputRows: m, output: &output, layout: .interleaved8)
            }
            #expect(Self.difference(output, expected) <= 1e-5, "m=\(m) threads=\(threads)")
        }
    }

    @Test("a group of an interleaved and a ggml-layout matrix (q/k/v-like), m = 1, 2, 3, 4, 6, 7, 17",
          arguments: [1, 2, 3, 4, 6, 7, 17])
    func mixedGroup(m: Int) throws {
        var rng = SeededGenerator(seed: 5100 + UInt64(m))
        let first = randomWeights(.q4_1, count: Self.rows * Self.columns, &rng)
        let secondRows = 12  // not a multiple of 8: stays in ggml's layout
        let second = randomWeights(.q5_1, count: secondRows * Self.columns, &rng)  // same activation format
        let packed = try InterleavedKernelTests.interleaved(first, rows: Self.rows, count: Self.columns)
        let input = randomFloats(m * Self.columns, &rng, scale: 2)
        let expectedFirst = try Self.ggmlProduct(first, rows: Self.rows, input: input, m: m)
        // one input row at a time: the decode path, which shares nothing
        // (scales, padding, scratch) with the batched paths under test
        var expectedSecond = [Float](repeating: .nan, count: m * secondRows)
        try second.withUnsafeBytes { w in
            for i in 0..<m {
                try expectedSecond.withUnsafeMutableBufferPointer { out in
                    try MatmulContext(pool: ThreadPool(threadCount: 1)).matmul(
                        weights: w.baseAddress!, type: .q5_1, rows: secondRows, columns: Self.columns,
                        input: Array(input[i * Self.columns..<(i + 1) * Self.columns]), inputRows: 1,
                        output: out.baseAddress! + i * secondRows)
                }
            }
        }
        // a product on other input first, so scratch the context keeps
        // (scales of padded rows) holds values that would be wrong here
        let other = randomFloats(m * Self.columns, &rng, scale: 3)
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            var a = [Float](repeating: .nan, count: m * Self.rows), b = [Float](repeating: .nan, count: m * secondRows)
            for x in [other, input] {
                try packed.withUnsafeBytes { p in
                    try second.withUnsafeBytes { s in
                        try a.withUnsafeMutableBufferPointer { a in
                            try b.withUnsafeMutableBufferPointer { b in
                                try context.matmul([.init(weights: p.baseAddress!, type: .q4_1, rows: Self.rows,
                                                          output: a.baseAddress!, layout: .interleaved8),
                                                    .init(weights: s.baseAddress!, type: .q5_1, rows: secondRows,
                                                          output: b.baseAddress!)],
                                                   columns: Self.columns, input: x, inputRows: m)
                            }
                        }
                    }
                }
            }
            #expect(Self.difference(a, expectedFirst) <= 1e-5, "interleaved, m=\(m) threads=\(threads)")
            #expect(Self.difference(b, expectedSecond) <= 1e-6, "ggml layout, m=\(m) threads=\(threads)")
        }
    }

    @Test("rows that are not a multiple of eight, or a type without the layout, are refused")
    func refused() throws {
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        let weights = [UInt8](repeating: 0, count: 12 * Self.columns)
        let input = [Float](repeating: 1, count: Self.columns)
        var output = [Float](repeating: 0, count: 16)
        weights.withUnsafeBytes { w in
            #expect(throws: KernelError.self) {
                try context.matmul(weights: w.baseAddress!, type: .q4_1, rows: 12, columns: Self.columns,
                                   input: input, inputRows: 1, output: &output, layout: .interleaved8)
            }
            #expect(throws: KernelError.self) {
                // Q4_0 has no eight-row layout at any level (Q8_0 has one at avx512vnni)
                try context.matmul(weights: w.baseAddress!, type: .q4_0, rows: 8, columns: Self.columns,
                                   input: input, inputRows: 1, output: &output, layout: .interleaved8)
            }
        }
    }
}

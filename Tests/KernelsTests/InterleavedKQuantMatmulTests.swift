import GGUF
import Testing
@testable import Kernels

/// MatmulContext on K-quant weights in the x8 layout (Q4_K, Q5_K, Q6_K where
/// the best table has it): decode, small batches and prompt tiles (the
/// panel, kpanel_vnni.h, at avx512vnni) give what the same weights give in
/// ggml's layout, on 1 and 2 threads.
@Suite("K-quant matrix products on interleaved weights")
struct InterleavedKQuantMatmulTests {
    static let rows = 40      // five groups: the threads' ranges split them unevenly
    static let columns = 512

    static func product(_ weights: [UInt8], type: GGMLType, input: [Float], m: Int, threads: Int,
                        layout: WeightLayout) throws -> [Float] {
        // 64-byte aligned, as the model's buffers: with 40 rows every other
        // output row starts a cache line, so the panels' streamed stores and
        // their plain fallback both run
        let output = UnsafeMutableRawPointer.allocate(byteCount: m * rows * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: m * rows)
        defer { output.deallocate() }
        output.initialize(repeating: .nan, count: m * rows)
        let context = MatmulContext(pool: ThreadPool(threadCount: threads))
        try weights.withUnsafeBytes { w in
            try input.withUnsafeBufferPointer { x in
                try context.matmul(weights: w.baseAddress!, type: type, rows: rows, columns: columns,
                                   input: x.baseAddress!, inputRows: m, output: output, layout: layout)
            }
        }
        return Array(UnsafeBufferPointer(start: output, count: m * rows))
    }

    @Test("m = 1, 3, 5, 8, 40, 70, 300, 530 against ggml's layout (530: two runs of the K-quant panels' 512 rows)", arguments: [GGMLType.q4_K, .q5_K, .q6_K])
    func againstGGML(type: GGMLType) throws {
        guard let kernel = KernelTable.best[type], kernel.canInterleave else {
            print("skipped: \(type) has no interleaved layout at this CPU's best level (\(KernelTable.best.isa))")
            return
        }
        var rng = SeededGenerator(seed: 9100 + UInt64(type.rawValue))
        let weights = randomWeights(type, count: Self.rows * Self.columns, &rng)
        var packed = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            packed.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: Self.rows, count: Self.columns) }
        }
        for m in [1, 3, 5, 8, 40, 70, 300, 530] {
            let input = randomFloats(m * Self.columns, &rng, scale: 2)
            let expected = try Self.product(weights, type: type, input: input, m: m, threads: 1, layout: .ggml)
            for threads in [1, 2] {
                let output = try Self.product(packed, type: type, input: input, m: m, threads: threads, layout: .interleaved8)
                #expect(InterleavedMatmulTests.difference(output, expected) <= 1e-5, "\(type) m=\(m) threads=\(threads)")
            }
        }
    }
}

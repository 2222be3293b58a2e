import CKernels
import GGUF
import Testing
@testable import Kernels

/// The sixteen-row panel kernels of the q8_0-activation types (gemm_q8_0.h)
/// against the scalar one-row dot, on shapes that leave partial panels,
/// partial passes of activation rows and a partial chunk of blocks; they
/// exist at `avx512vnni` only, so elsewhere the test says it is skipped.
@Suite("Panel kernels (Q8_0, Q5_0, Q4_0 prompt processing)")
struct PanelKernelTests {
    static let types: [GGMLType] = [.q8_0, .q5_0, .q4_0]
    static let vnni = KernelISA.avx512vnni
    static let reason = vnni.rawValue <= KernelISA.cpu.rawValue
        ? "skipped: MOED_KERNEL_ISA caps the kernels below avx512vnni"
        : "skipped: no AVX-512 VNNI here"

    @Test("every level below avx512vnni has no panel kernel (the four-row tiles run there)")
    func lowerLevels() throws {
        for isa in KernelISA.allCases where isa != .avx512vnni {
            for type in Self.types {
                #expect(moe_gemm16_get(type.rawValue, isa.cValue) == nil, "\(type) at \(isa)")
            }
        }
    }

    @Test("panel product = scalar dots, partial panels and passes, NaN-guarded output",
          .enabled(if: vnni.isSupported, Comment(rawValue: reason)), arguments: types)
    func againstScalar(type: GGMLType) throws {
        let gemm = try #require(moe_gemm16_get(type.rawValue, Self.vnni.cValue))
        let scalar = try KernelTable.scalar.matrixKernel(for: type)
        let activationKernel = try #require(KernelTable(isa: Self.vnni)).matrixKernel(for: type)
        var rng = SeededGenerator(seed: UInt64(type.rawValue) * 977)
        // 65 blocks cross the kernel's 64-block panel chunk
        for columns in [32, 96, 65 * 32] {
            for rows in [1, 15, 17, 40] {
                let weights = randomWeights(type, count: rows * columns, &rng)
                for m in [1, 2, 3, 4, 5, 7, 9, 33] {
                    let input = randomFloats(m * columns, &rng, scale: 2)
                    try check(gemm, scalar, activationKernel, weights: weights, input: input,
                              rows: rows, columns: columns, m: m)
                }
            }
        }
    }

    @Test("extreme quants (q8_0 −128 and 127, full nibbles) against ±127 activations",
          .enabled(if: vnni.isSupported, Comment(rawValue: reason)), arguments: types)
    func extremes(type: GGMLType) throws {
        let gemm = try #require(moe_gemm16_get(type.rawValue, Self.vnni.cValue))
        let scalar = try KernelTable.scalar.matrixKernel(for: type)
        let activationKernel = try #require(KernelTable(isa: Self.vnni)).matrixKernel(for: type)
        let columns = 64, blocks = columns / type.blockSize
        var weights: [UInt8] = []
        for pattern: UInt8 in [0x80, 0x7F, 0xFF, 0x00] {
            var row = [UInt8](repeating: pattern, count: blocks * type.bytesPerBlock)
            for block in 0..<blocks {  // d = 1.0
                row[block * type.bytesPerBlock] = 0x00
                row[block * type.bytesPerBlock + 1] = 0x3C
            }
            weights += row
        }
        let input = (0..<5 * columns).map { i -> Float in i % 3 == 0 ? -127 : 127 }
        try check(gemm, scalar, activationKernel, weights: weights, input: input, rows: 4, columns: columns, m: 5)
    }

    private func check(_ gemm: moe_gemm16_fn, _ scalar: QuantKernel, _ activationKernel: QuantKernel,
                       weights: [UInt8], input: [Float], rows: Int, columns: Int, m: Int) throws {
        let rowBytes = try #require(scalar.rowBytes(count: columns))
        let activationBytes = try #require(scalar.activationRowBytes(count: columns))
        var activations: [UInt8] = []
        for j in 0..<m {
            activations += activationKernel.quantizedActivations(Array(input[j * columns..<(j + 1) * columns]))
        }
        // the output rows are wider than the product: the extra columns must stay NaN
        let stride = rows + 3
        var output = [Float](repeating: .nan, count: m * stride)
        var prep = [Float](repeating: .nan, count: m * Int(MOE_GEMM16_PREP_PER_BLOCK) * columns / 32)
        weights.withUnsafeBytes { w in
            activations.withUnsafeBytes { a in
                moe_gemm16_prep_q8_0(a.baseAddress!, activationBytes, Int64(m), &prep, Int64(columns))
                gemm(w.baseAddress!, rowBytes, Int64(rows), a.baseAddress!, activationBytes, prep, Int64(m),
                     &output, stride, Int64(columns))
            }
        }
        var expected = [Float](repeating: 0, count: m * rows)
        for j in 0..<m {
            let x = Array(activations[j * activationBytes..<(j + 1) * activationBytes])
            for r in 0..<rows {
                expected[j * rows + r] = scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), x, count: columns)
            }
        }
        // only the order of float additions differs, so the bound scales with the largest result
        let bound = 1e-5 * max(1, expected.map { abs($0) }.max() ?? 1)
        for j in 0..<m {
            for r in 0..<rows {
                let got = output[j * stride + r], want = expected[j * rows + r]
                #expect(abs(got - want) <= bound,
                        "\(scalar.type) rows \(rows) columns \(columns) m \(m): [\(j)][\(r)] \(got) vs \(want)")
            }
            for r in rows..<stride {
                #expect(output[j * stride + r].isNaN, "\(scalar.type): column \(r) of output row \(j) was written")
            }
        }
    }
}

/// The panel path inside `MatmulContext`: a group of products of mixed
/// q8_0-activation types shares one activation preparation, and the next
/// call's new activations of the same shape are prepared afresh.
@Suite("Panel products through MatmulContext")
struct PanelProductTests {
    @Test("grouped Q8_0/Q5_0/Q4_0 products, twice with new inputs, match the scalar table",
          .enabled(if: PanelKernelTests.vnni.isSupported, Comment(rawValue: PanelKernelTests.reason)))
    func groupedTwice() throws {
        let columns = 96, m = 20
        let types: [GGMLType] = [.q8_0, .q5_0, .q4_0]
        let rows = [40, 17, 16]
        var rng = SeededGenerator(seed: 4242)
        let weights = zip(types, rows).map { randomWeights($0, count: $1 * columns, &rng) }
        let fast = MatmulContext(pool: ThreadPool(threadCount: 2), table: try #require(KernelTable(isa: .avx512vnni)))
        let slow = MatmulContext(pool: ThreadPool(threadCount: 1), table: .scalar)
        for round in 0..<2 {
            let input = randomFloats(m * columns, &rng, scale: 2)
            var results: [[Float]] = []
            for context in [fast, slow] {
                var outputs = rows.map { [Float](repeating: .nan, count: m * $0) }
                try withPointers(weights, &outputs) { w, o in
                    let products = (0..<types.count).map {
                        MatmulContext.MatrixProduct(weights: w[$0], type: types[$0], rows: rows[$0], output: o[$0])
                    }
                    try context.matmul(products, columns: columns, input: input, inputRows: m)
                }
                results.append(outputs.flatMap { $0 })
            }
            let bound = 1e-5 * max(1, results[1].map { abs($0) }.max() ?? 1)
            let worst = zip(results[0], results[1]).map { abs($0 - $1) }.max() ?? .nan
            #expect(worst <= bound, "round \(round): |Δ| \(worst) > \(bound)")
        }
    }

    /// Stable pointers to every weight array and output array for one call.
    private func withPointers(_ weights: [[UInt8]], _ outputs: inout [[Float]],
                              _ body: ([UnsafeRawPointer], [UnsafeMutablePointer<Float>]) throws -> Void) throws {
        let w = weights.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            p.copyMemory(from: bytes, byteCount: bytes.count)
            return p
        }
        let o = outputs.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
        defer {
            w.forEach { $0.deallocate() }
            o.forEach { $0.deallocate() }
        }
        try body(w.map { UnsafeRawPointer($0) }, o)
        for k in outputs.indices { outputs[k] = Array(UnsafeBufferPointer(start: o[k], count: outputs[k].count)) }
    }
}

import CKernels
import GGUF
import Testing
@testable import Kernels

/// Q5_K in the eight-row interleaved layout (repack_q5_K*.c): the repack and
/// its inverse, the scalar product on it against the one-row reference dot
/// (exactly), and the VNNI product against the scalar dots, for 1 to 9
/// activation rows. Only the avx512vnni table repacks Q5_K.
@Suite("Interleaved Q5_K kernels")
struct InterleavedQ5KTests {
    static let count = 1024  // values per row: 4 blocks of 256

    static func repacked(_ weights: [UInt8], rows: Int, count: Int = count) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { moe_repack_q5_K_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(count)) }
        }
        return out
    }

    typealias Product = (UnsafeRawPointer?, Int64, UnsafeRawPointer?, Int, Int64, UnsafeMutablePointer<Float>?, Int, Int64) -> Void

    static func product(_ fn: Product, _ packed: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int = count) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * activations.count)
        let joined = activations.flatMap { $0 }
        packed.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                fn(w.baseAddress!, Int64(rows), a.baseAddress!, activations[0].count, Int64(activations.count), &out, rows,
                   Int64(count))
            }
        }
        return out
    }

    @Test("the avx512vnni table repacks Q5_K; no other level does")
    func whichLevels() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            #expect(table[.q5_K]?.canInterleave == (isa == .avx512vnni), "\(isa)")
        }
    }

    @Test("unpacking gives back the original bytes (scales included)")
    func roundTrip() {
        let rows = 16
        var rng = SeededGenerator(seed: 7101)
        let weights = randomWeights(.q5_K, count: rows * Self.count, &rng)
        let packed = Self.repacked(weights, rows: rows)
        #expect(packed != weights)
        var back = [UInt8](repeating: 0, count: weights.count)
        packed.withUnsafeBytes { src in
            back.withUnsafeMutableBytes { moe_unpack_q5_K_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(Self.count)) }
        }
        #expect(back == weights)
    }

    @Test("the scalar product equals the one-row reference dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        let rows = 16
        var rng = SeededGenerator(seed: 7103 + UInt64(m))
        let scalar = try #require(KernelTable.scalar[.q5_K])
        let weights = randomWeights(.q5_K, count: rows * Self.count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(Self.count, &rng, scale: Float(1 + j))) }
        let out = Self.product(moe_gemm_q5_Kx8_q8_K_ref, Self.repacked(weights, rows: rows), rows: rows, activations)
        let rowBytes = weights.count / rows
        for j in 0..<m {
            for r in 0..<rows {
                let expected = scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), activations[j], count: Self.count)
                #expect(out[j * rows + r] == expected, "weight row \(r), activation row \(j)")
            }
        }
    }

    @Test("the VNNI product agrees with the scalar dots for 1 to 9, 33 and 70 activation rows (direct up to eight, four rows a pass; the panel from nine, two passes past 64)",
          .enabled(if: KernelISA.avx512vnni.isSupported, "skipped: no AVX-512 VNNI here (or MOED_KERNEL_ISA caps it)"),
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 70])
    func vnniAgreement(m: Int) throws {
        let rows = 24, tolerance = try #require(Tolerance.dot[.q5_K])
        var rng = SeededGenerator(seed: 7200 + UInt64(m))
        let scalar = try #require(KernelTable.scalar[.q5_K])
        let weights = randomWeights(.q5_K, count: rows * Self.count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(Self.count, &rng, scale: Float(1 + j))) }
        let kernel = try #require(KernelTable(isa: .avx512vnni)?[.q5_K])
        #expect(kernel.canInterleave)
        var packed = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            packed.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: Self.count) }
        }
        var out = [Float](repeating: .nan, count: rows * m)
        let joined = activations.flatMap { $0 }
        packed.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                kernel.interleavedProduct(weights: w.baseAddress!, rows: rows, a.baseAddress!, activationStride: activations[0].count,
                                          inputRows: m, into: &out, outputStride: rows, count: Self.count)
            }
        }
        let rowBytes = weights.count / rows
        for j in 0..<m {
            let x = dequantizedActivations(activations[j], type: .q8_K, count: Self.count)
            for r in 0..<rows {
                let w = Array(weights[r * rowBytes..<(r + 1) * rowBytes])
                let expected = Double(scalar.dot(w, activations[j], count: Self.count))
                let magnitude = zip(scalar.dequantized(w, count: Self.count), x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(out[j * rows + r]) - expected) <= tolerance * max(magnitude, 1),
                        "weight row \(r), activation row \(j): \(out[j * rows + r]) vs \(expected)")
            }
        }
    }

    @Test("extreme rows (every weight 31, every scale and min 63) against activations of ±127 stay exact in i32")
    func extremes() throws {
        guard KernelISA.avx512vnni.isSupported else { print("skipped: no AVX-512 VNNI here (Q5_K x8 extremes)"); return }
        let rows = 24  // a pair of groups (the sixteen-row panel) and an eight-row group
        let scalar = try #require(KernelTable.scalar[.q5_K])
        var block = [UInt8](repeating: 0xFF, count: 176)
        block[0] = 0x00; block[1] = 0x3C; block[2] = 0x00; block[3] = 0x3C  // d = dmin = 1
        let weights = [UInt8]((0..<rows * Self.count / 256).flatMap { _ in block })
        let ones = scalar.quantizedActivations([Float](repeating: 1, count: Self.count))
        let alternating = scalar.quantizedActivations((0..<Self.count).map { $0 % 2 == 0 ? -1 : 1 })
        // two and five rows take the direct kernel, nine the panel
        let nine = [ones, alternating, ones, alternating, alternating, ones, ones, alternating, ones]
        for activations in [[ones, alternating], [ones, alternating, ones, alternating, alternating], nine] {
            try extremes(moe_gemm_q5_Kx8_q8_K_vnni, weights: weights, activations: activations, scalar: scalar)
        }
    }

    private func extremes(_ product: Product, weights: [UInt8], activations: [[UInt8]], scalar: QuantKernel) throws {
        let rows = weights.count / (Self.count / 256 * 176)
        let out = Self.product(product, Self.repacked(weights, rows: rows), rows: rows, activations)
        let rowBytes = weights.count / rows
        for j in activations.indices {
            for r in 0..<rows {
                let expected = scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), activations[j], count: Self.count)
                #expect(abs(out[j * rows + r] - expected) <= 1e-5 * max(abs(expected), 1), "row \(r), input \(j)")
            }
        }
    }

    @Test("the sixteen-row panel gives the eight-row panel's outputs bit for bit (rows 16–23 repeat rows 0–7 and 8–15)",
          .enabled(if: KernelISA.avx512vnni.isSupported, "skipped: no AVX-512 VNNI here (or MOED_KERNEL_ISA caps it)"),
          arguments: [8, 33])
    func sixteenRowsMatchEight(m: Int) throws {
        // Rows 0–15 go through the merged panel (its mins paired per two
        // sub-blocks against 32-value activation sums), rows 16–23, the odd
        // group, through the eight-row panel: the same integers and the
        // same float epilogue, so equal outputs.
        var rng = SeededGenerator(seed: 7300 + UInt64(m))
        let scalar = try #require(KernelTable.scalar[.q5_K])
        let group = randomWeights(.q5_K, count: 8 * Self.count, &rng)
        let weights = group + group + group
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(Self.count, &rng, scale: Float(1 + j))) }
        let out = Self.product(moe_gemm_q5_Kx8_q8_K_vnni, Self.repacked(weights, rows: 24), rows: 24, activations)
        for j in 0..<m {
            for r in 0..<16 {
                #expect(out[j * 24 + r] == out[j * 24 + 16 + r % 8], "activation row \(j), weight row \(r)")
            }
        }
    }
}

import CKernels
import GGUF
import Testing
@testable import Kernels

/// The eight-row interleaved Q4_1 layout (repack_q4_1*.c): the repack, its
/// inverse, and the products on it at every ISA level against the scalar
/// single-row dot of the original rows.
@Suite("Interleaved Q4_1 kernels")
struct InterleavedKernelTests {
    static let count = 256  // values per row: 8 blocks

    static func interleaved(_ weights: [UInt8], rows: Int, count: Int = count) throws -> [UInt8] {
        let kernel = try #require(KernelTable.scalar[.q4_1])
        var out = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: count) }
        }
        return out
    }

    static let layout = EightRowLayout(type: .q4_1, repack: moe_repack_q4_1_x8, unpack: moe_unpack_q4_1_x8)

    @Test("Q4_1 has the layout at every ISA level, Q4_K at every SIMD level, Q5_K, Q6_K, Q5_0 and Q8_0 at avx2 and avx512vnni (InterleavedQ4KTests, InterleavedQ5KTests, InterleavedQ6KTests, InterleavedQ5_0Tests, InterleavedQ8_0Tests)")
    func whichTypes() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            for type in matrixTypes {
                let expected = type == .q4_1 || (type == .q4_K && isa != .scalar) || ((type == .q5_K || type == .q6_K || type == .q5_0 || type == .q8_0) && isa == .avx512vnni)
                    || ((type == .q5_K || type == .q6_K || type == .q5_0 || type == .q8_0) && isa == .avx2)
                #expect(table[type]?.canInterleave == expected, "\(type) at \(isa)")
            }
        }
    }

    @Test("block i of group k holds the eight rows' d, m and 4-byte pieces of qs in order")
    func layout() throws {
        let rows = 16, blocks = Self.count / 32
        var rng = SeededGenerator(seed: 4101)
        let weights = randomWeights(.q4_1, count: rows * Self.count, &rng)
        let packed = try Self.interleaved(weights, rows: rows)
        for k in 0..<rows / 8 {
            for i in 0..<blocks {
                let out = (k * blocks + i) * 160
                for r in 0..<8 {
                    let src = ((8 * k + r) * blocks + i) * 20
                    #expect(packed[out + 2 * r..<out + 2 * r + 2] == weights[src..<src + 2], "d of row \(r)")
                    #expect(packed[out + 16 + 2 * r..<out + 18 + 2 * r] == weights[src + 2..<src + 4], "m of row \(r)")
                    for g in 0..<4 {
                        let piece = out + 32 + 32 * g + 4 * r
                        #expect(packed[piece..<piece + 4] == weights[src + 4 + 4 * g..<src + 8 + 4 * g], "piece \(g) of row \(r)")
                    }
                }
            }
        }
    }

    @Test("unpacking gives back the original bytes, so the dequantized matrix is unchanged")
    func roundTrip() throws {
        let rows = 24
        var rng = SeededGenerator(seed: 4102)
        let weights = randomWeights(.q4_1, count: rows * Self.count, &rng)
        let packed = try Self.interleaved(weights, rows: rows)
        #expect(packed != weights)
        var back = [UInt8](repeating: 0, count: weights.count)
        packed.withUnsafeBytes { src in
            back.withUnsafeMutableBytes { moe_unpack_q4_1_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(Self.count)) }
        }
        #expect(back == weights)
        let kernel = try #require(KernelTable.scalar[.q4_1])
        #expect(kernel.dequantized(back, count: rows * Self.count) == kernel.dequantized(weights, count: rows * Self.count))
    }

    @Test("the scalar product equals the scalar single-row dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q4_1x8_q8_1_ref, rows: 16, count: Self.count, m: m, seed: 4103 + UInt64(m))
    }

    @Test("every ISA level agrees with the scalar dots for 1 to 9 activation rows",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    func agreement(m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 24, count: Self.count, m: m, seed: 4200 + UInt64(m))
    }

    /// The AVX2 product converts the activation scales of up to 16 KB of
    /// rows at a time (chunks of 32 rows at 2048 values) and takes its
    /// unprepared path past 16384 values.
    @Test("every ISA level agrees past one chunk of prepared scales and on rows too long for them",
          arguments: [(2048, 37), (16416, 6)])
    func longRows(count: Int, m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 8, count: count, m: m, seed: 4300 + UInt64(m))
    }

    @Test("weights of 15 against activations of ±127 do not overflow the 16-bit sums", arguments: [Float(1), -1])
    func extremes(sign: Float) throws {
        let rows = 8, count = 64
        let scalar = try #require(KernelTable.scalar[.q4_1])
        var weights = [UInt8](repeating: 0xff, count: rows * count / 32 * 20)
        for b in 0..<rows * count / 32 {  // d = 1, m = 0
            weights[b * 20] = UInt8(half(1) & 0xff); weights[b * 20 + 1] = UInt8(half(1) >> 8)
            weights[b * 20 + 2] = 0; weights[b * 20 + 3] = 0
        }
        let activation = scalar.quantizedActivations([Float](repeating: sign, count: count))
        let packed = try Self.interleaved(weights, rows: rows, count: count)
        let expected = scalar.dot(Array(weights[0..<count / 32 * 20]), activation, count: count)
        #expect(abs(expected) > 0)
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[.q4_1])
            let out = EightRowLayout.product(kernel, packed, rows: rows, [activation, activation, activation, activation], count: count)
            for value in out { #expect(abs(value - expected) <= 1e-6 * abs(expected), "\(isa)") }
        }
    }
}

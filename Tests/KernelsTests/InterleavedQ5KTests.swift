import CKernels
import GGUF
import Testing
@testable import Kernels

/// Q5_K in the eight-row interleaved layout (repack_q5_K*.c): the repack and
/// its inverse, the scalar product on it against the one-row reference dot
/// (exactly), and every level's product that has the layout (AVX2's at
/// avx2, bit for bit the scalar dots; VNNI's at avx512vnni) against the
/// scalar dots, for 1 to 9 activation rows and more.
@Suite("Interleaved Q5_K kernels")
struct InterleavedQ5KTests {
    static let count = 1024  // values per row: 4 blocks of 256
    static let layout = EightRowLayout(type: .q5_K, repack: moe_repack_q5_K_x8, unpack: moe_unpack_q5_K_x8)

    @Test("the avx2 and avx512vnni tables repack Q5_K; the scalar and plain avx512 ones do not")
    func whichLevels() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            #expect(table[.q5_K]?.canInterleave == (isa == .avx2 || isa == .avx512vnni), "\(isa)")
        }
    }

    @Test("unpacking gives back the original bytes (scales included)")
    func roundTrip() throws {
        try Self.layout.expectRoundTrip(rows: 16, count: Self.count, seed: 7101)
    }

    @Test("the scalar product equals the one-row reference dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q5_Kx8_q8_K_ref, rows: 16, count: Self.count, m: m, seed: 7103 + UInt64(m))
    }

    @Test("every level's product agrees with the scalar dots for 1 to 9, 12, 33, 64 and 70 activation rows (direct up to eight, four rows a pass; the panel from nine, two passes past 64 at avx512vnni)",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 33, 64, 70])
    func agreement(m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 24, count: Self.count, m: m, seed: 7200 + UInt64(m))
    }

    /// AVX2 (repack_q5_K_avx2.c): the direct kernel up to eight rows, the
    /// panel filled from the layout past eight (kpanel_avx2.c); both make
    /// the scalar dot's integers and round its float step as it does.
    @Test("avx2: the table's repack and product equal the scalar dots bit for bit (1 to 9, 12, 33, 64 and 70 rows; 256 to 8960 values a row)",
          needs(.avx2, "AVX2"),
          arguments: [(256, 1), (1024, 1), (1024, 2), (1024, 3), (1024, 4), (1024, 5), (1024, 6), (1024, 7), (1024, 8),
                      (1024, 9), (1024, 12), (1024, 33), (1024, 64), (1024, 70), (256, 70), (4864, 4), (8960, 1),
                      (8960, 12)])
    func avx2IsExact(count: Int, m: Int) throws {
        try Self.layout.expectTableProductExact(isa: .avx2, rows: 24, count: count, m: m, seed: 7600 + UInt64(count + m))
    }

    /// The panel alone at any m (the entry takes it past eight rows) against
    /// the direct kernel, four rows a call: bit for bit.
    @Test("avx2: the panel filled from the layout gives the direct kernel's outputs bit for bit", needs(.avx2, "AVX2"),
          arguments: [1, 3, 8, 40, 70, 130])
    func avx2PanelMatchesDirect(m: Int) throws {
        let rows = 16
        let (weights, activations) = try Self.layout.inputs(rows: rows, count: Self.count, m: m, seed: 7700 + UInt64(m))
        let packed = Self.layout.repacked(weights, rows: rows, count: Self.count)
        let panel = EightRowLayout.product(moe_gemm_panel_q5_Kx8_q8_K_avx2, packed, rows: rows, activations, count: Self.count)
        let direct = EightRowLayout.productFourRowsACall(moe_gemm_q5_Kx8_q8_K_avx2, packed, rows: rows, activations,
                                                          count: Self.count)
        #expect(panel.map(\.bitPattern) == direct.map(\.bitPattern))
        #expect(panel == (try Self.layout.scalarDots(weights, rows: rows, activations, count: Self.count)))
    }

    @Test("extreme rows (every weight 31, every scale and min 63) against activations of ±127 stay exact in i32 (and i16 for AVX2's sums)",
          arguments: [KernelISA.avx2, .avx512vnni])
    func extremes(isa: KernelISA) throws {
        guard isa.isSupported else { print("skipped: no \(isa) here, or MOED_KERNEL_ISA caps it (Q5_K x8 extremes)"); return }
        let product: EightRowLayout.Product = isa == .avx2 ? moe_gemm_q5_Kx8_q8_K_avx2 : moe_gemm_q5_Kx8_q8_K_vnni
        try Self.layout.expectKQuantExtremes(product, block: Self.extremeBlock, count: Self.count)
    }

    /// d = dmin = 1, every other byte 0xFF: every value 31, every scale and min 63.
    static let extremeBlock: [UInt8] = [0x00, 0x3C, 0x00, 0x3C] + [UInt8](repeating: 0xFF, count: 172)

    /// Four pieces' maddubs pairs of 31 · (−128) add up in i16 to −31744, the
    /// most negative sum AVX2's i16 sums take; q8_K from moed's quantizer
    /// stays within ±127, so these activation blocks are made by hand.
    @Test("avx2: every value 31 against activations of -128 (and alternating -128 / 127) stays exact, bit for bit the scalar dots",
          needs(.avx2, "AVX2"), arguments: [2, 5, 9])
    func avx2MostNegative(m: Int) throws {
        let rows = 24
        let weights = [UInt8]((0..<rows * Self.count / 256).flatMap { _ in Self.extremeBlock })
        let activations = (0..<m).map { j in Self.handMadeActivations(count: Self.count) { j % 2 == 0 ? -128 : ($0 % 2 == 0 ? -128 : 127) } }
        let packed = Self.layout.repacked(weights, rows: rows, count: Self.count)
        let out = EightRowLayout.product(moe_gemm_q5_Kx8_q8_K_avx2, packed, rows: rows, activations, count: Self.count)
        let expected = try Self.layout.scalarDots(weights, rows: rows, activations, count: Self.count)
        #expect(out == expected)
        #expect(expected.allSatisfy { $0.isFinite && $0 != 0 })
    }

    /// q8_K blocks (d: Float, 256 × Int8, 16 × Int16 sums of 16) with
    /// d = 1/128 and value `value(t)` at t.
    static func handMadeActivations(count: Int, _ value: (Int) -> Int8) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<count / 256 {
            let d = Float(1.0 / 128).bitPattern
            bytes += (0..<4).map { UInt8(truncatingIfNeeded: d >> (8 * $0)) }
            let q = (0..<256).map(value)
            bytes += q.map { UInt8(bitPattern: $0) }
            for s in 0..<16 {
                let sum = Int16(q[16 * s..<16 * s + 16].reduce(0) { $0 + Int($1) })
                bytes += [UInt8(truncatingIfNeeded: sum), UInt8(truncatingIfNeeded: sum >> 8)]
            }
        }
        return bytes
    }

    @Test("the sixteen-row panel gives the eight-row panel's outputs bit for bit (rows 16–23 repeat rows 0–7 and 8–15; 70 and 150: passes of 64 activation rows and a short last one)",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [8, 33, 70, 150])
    func sixteenRowsMatchEight(m: Int) throws {
        // As Q4_K's: the merged panel's paired mins against the eight-row panel's.
        try Self.layout.expectSixteenRowsMatchEight(moe_gemm_q5_Kx8_q8_K_vnni, count: Self.count, m: m, seed: 7300 + UInt64(m))
    }
}

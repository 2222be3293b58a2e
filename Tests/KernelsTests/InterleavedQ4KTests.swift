import CKernels
import GGUF
import Testing
@testable import Kernels

/// Q4_K in the eight-row interleaved layout (repack_q4_K*.c): the repack and
/// its inverse, the scalar product on it against the one-row reference dot
/// (exactly), and every SIMD level's product (AVX2's at avx2 and avx512,
/// VNNI's at avx512vnni) against the scalar dots, for 1 to 9 activation rows.
@Suite("Interleaved Q4_K kernels")
struct InterleavedQ4KTests {
    static let count = 1024  // values per row: 4 blocks of 256
    static let layout = EightRowLayout(type: .q4_K, repack: moe_repack_q4_K_x8, unpack: moe_unpack_q4_K_x8)

    @Test("every SIMD table repacks Q4_K; the scalar one does not")
    func whichLevels() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            #expect(table[.q4_K]?.canInterleave == (isa != .scalar), "\(isa)")
        }
    }

    @Test("unpacking gives back the original bytes (scales and mins included)")
    func roundTrip() throws {
        try Self.layout.expectRoundTrip(rows: 16, count: Self.count, seed: 5101)
    }

    @Test("the scalar product equals the one-row reference dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q4_Kx8_q8_K_ref, rows: 16, count: Self.count, m: m, seed: 5103 + UInt64(m))
    }

    @Test("every SIMD level's product agrees with the scalar dots for 1 to 9, 33 and 70 activation rows (direct up to eight, four rows a pass; the panel from nine, two passes past 64)",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 70])
    func agreement(m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 24, count: Self.count, m: m, seed: 5200 + UInt64(m))
    }

    @Test("extreme rows (every nibble 15, every scale and min 63) against activations of ±127 stay exact in i32 (and i16 for AVX2's pairs)",
          arguments: [KernelISA.avx2, .avx512vnni])
    func extremes(isa: KernelISA) throws {
        guard isa.isSupported else { print("skipped: no \(isa) here, or MOED_KERNEL_ISA caps it (Q4_K x8 extremes)"); return }
        let product: EightRowLayout.Product = isa == .avx2 ? moe_gemm_q4_Kx8_q8_K_avx2 : moe_gemm_q4_Kx8_q8_K_vnni
        var block = [UInt8](repeating: 0xFF, count: 144)
        block[0] = 0x00; block[1] = 0x3C; block[2] = 0x00; block[3] = 0x3C  // d = dmin = 1
        try Self.layout.expectKQuantExtremes(product, block: block, count: Self.count)
    }

    @Test("the sixteen-row panel gives the eight-row panel's outputs bit for bit (rows 16–23 repeat rows 0–7 and 8–15; 70 and 150: passes of 64 activation rows and a short last one)",
          .enabled(if: KernelISA.avx512vnni.isSupported, "skipped: no AVX-512 VNNI here (or MOED_KERNEL_ISA caps it)"),
          arguments: [8, 33, 70, 150])
    func sixteenRowsMatchEight(m: Int) throws {
        // Rows 0–15 go through the merged panel (its mins paired per two
        // sub-blocks against 32-value activation sums), rows 16–23, the odd
        // group, through the eight-row panel: the same integers and the
        // same float epilogue, so equal outputs.
        try Self.layout.expectSixteenRowsMatchEight(moe_gemm_q4_Kx8_q8_K_vnni, count: Self.count, m: m, seed: 7300 + UInt64(m))
    }
}

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
    static let layout = EightRowLayout(type: .q5_K, repack: moe_repack_q5_K_x8, unpack: moe_unpack_q5_K_x8)

    @Test("the avx512vnni table repacks Q5_K; no other level does")
    func whichLevels() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            #expect(table[.q5_K]?.canInterleave == (isa == .avx512vnni), "\(isa)")
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

    @Test("the VNNI product agrees with the scalar dots for 1 to 9, 33 and 70 activation rows (direct up to eight, four rows a pass; the panel from nine, two passes past 64)",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 70])
    func vnniAgreement(m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 24, count: Self.count, m: m, seed: 7200 + UInt64(m))
    }

    @Test("extreme rows (every weight 31, every scale and min 63) against activations of ±127 stay exact in i32")
    func extremes() throws {
        guard KernelISA.avx512vnni.isSupported else { print("skipped: no AVX-512 VNNI here (Q5_K x8 extremes)"); return }
        var block = [UInt8](repeating: 0xFF, count: 176)
        block[0] = 0x00; block[1] = 0x3C; block[2] = 0x00; block[3] = 0x3C  // d = dmin = 1
        try Self.layout.expectKQuantExtremes(moe_gemm_q5_Kx8_q8_K_vnni, block: block, count: Self.count)
    }

    @Test("the sixteen-row panel gives the eight-row panel's outputs bit for bit (rows 16–23 repeat rows 0–7 and 8–15; 70 and 150: passes of 64 activation rows and a short last one)",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [8, 33, 70, 150])
    func sixteenRowsMatchEight(m: Int) throws {
        // As Q4_K's: the merged panel's paired mins against the eight-row panel's.
        try Self.layout.expectSixteenRowsMatchEight(moe_gemm_q5_Kx8_q8_K_vnni, count: Self.count, m: m, seed: 7300 + UInt64(m))
    }
}

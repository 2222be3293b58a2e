import CKernels
import GGUF
import Testing
@testable import Kernels

/// Q6_K in the eight-row interleaved layout (repack_q6_K*.c): the repack and
/// its inverse, the scalar product on it against the one-row reference dot
/// (exactly), and every level's product that has the layout (AVX2's at
/// avx2, VNNI's at avx512vnni) against the scalar dots, for 1 to 9
/// activation rows and more.
@Suite("Interleaved Q6_K kernels")
struct InterleavedQ6KTests {
    static let count = 1024  // values per row: 4 blocks of 256
    static let layout = EightRowLayout(type: .q6_K, repack: moe_repack_q6_K_x8, unpack: moe_unpack_q6_K_x8)

    @Test("the avx2 and avx512vnni tables repack Q6_K; the scalar and plain avx512 ones do not")
    func whichLevels() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            #expect(table[.q6_K]?.canInterleave == (isa == .avx2 || isa == .avx512vnni), "\(isa)")
        }
    }

    @Test("unpacking gives back the original bytes (scales included)")
    func roundTrip() throws {
        try Self.layout.expectRoundTrip(rows: 16, count: Self.count, seed: 6101)
    }

    @Test("the scalar product equals the one-row reference dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q6_Kx8_q8_K_ref, rows: 16, count: Self.count, m: m, seed: 6103 + UInt64(m))
    }

    @Test("every level's product agrees with the scalar dots for 1 to 9, 33 and 70 activation rows (direct, four rows a pass; the panel from nine at avx2 and avx512vnni, two passes past 64)",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 70])
    func agreement(m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 24, count: Self.count, m: m, seed: 6200 + UInt64(m))
    }

    /// The direct kernel keeps each activation row's −32·bsum table on its
    /// stack up to 4096 entries (four rows of 64 blocks); 65 blocks at four
    /// rows take the thread's scratch buffer.
    @Test("every level's product agrees with the scalar dots on rows whose centring table leaves the stack",
          arguments: [(16384, 4), (16640, 4)])
    func longRows(count: Int, m: Int) throws {
        try Self.layout.expectAgreementAtEveryLevel(rows: 8, count: count, m: m, seed: 6300 + UInt64(count + m))
    }

    @Test("extreme rows (every weight 63, every scale -128) against activations of ±127 stay exact in i32 (and i16 for AVX2's pairs)",
          arguments: [KernelISA.avx2, .avx512vnni])
    func extremes(isa: KernelISA) throws {
        guard isa.isSupported else { print("skipped: no \(isa) here, or MOED_KERNEL_ISA caps it (Q6_K x8 extremes)"); return }
        let product: EightRowLayout.Product = isa == .avx2 ? moe_gemm_q6_Kx8_q8_K_avx2 : moe_gemm_q6_Kx8_q8_K_vnni
        var block = [UInt8](repeating: 0xFF, count: 210)
        for s in 192..<208 { block[s] = 0x80 }  // scales -128
        block[208] = 0x00; block[209] = 0x3C  // d = 1
        try Self.layout.expectKQuantExtremes(product, block: block, count: Self.count)
    }

    /// The AVX2 product makes the VNNI one's integers (maddubs pairs, then
    /// madd with ones, for each vpdpbusd) and the same float epilogue.
    @Test("the AVX2 product gives the VNNI product's outputs bit for bit", needs(.avx512vnni, "AVX-512 VNNI"),
          arguments: [1, 4, 7])
    func avx2MatchesVNNI(m: Int) throws {
        let rows = 16
        let (weights, activations) = try Self.layout.inputs(rows: rows, count: Self.count, m: m, seed: 7500 + UInt64(m))
        let packed = Self.layout.repacked(weights, rows: rows, count: Self.count)
        #expect(EightRowLayout.product(moe_gemm_q6_Kx8_q8_K_avx2, packed, rows: rows, activations, count: Self.count)
                == EightRowLayout.product(moe_gemm_q6_Kx8_q8_K_vnni, packed, rows: rows, activations, count: Self.count))
    }

    @Test("the sixteen-row panel (signed weights against unsigned activations) gives Σ d·dy·Σ_s sc_s·Σ(q − 32)·y bit for bit",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [9, 33, 70, 150])
    func sixteenRowsExact(m: Int) throws {
        // the integer of each block exactly, then one fused multiply-add per
        // block in block order: what the panel computed before it took the
        // signed form (its mins folded into the scale sums)
        let rows = 16
        let (weights, activations) = try Self.layout.inputs(rows: rows, count: Self.count, m: m, seed: 7400 + UInt64(m))
        let out = EightRowLayout.product(moe_gemm_q6_Kx8_q8_K_vnni, Self.layout.repacked(weights, rows: rows, count: Self.count),
                                         rows: rows, activations, count: Self.count)
        let blocks = Self.count / 256
        for j in 0..<m {
            for r in 0..<rows {
                var want: Float = 0
                for i in 0..<blocks {
                    let w = Array(weights[(r * blocks + i) * 210..<(r * blocks + i + 1) * 210])
                    let a = Array(activations[j][i * 292..<(i + 1) * 292])
                    let (isum, d) = Self.blockSum(w, a)
                    want.addProduct(d * a.withUnsafeBytes { $0.load(as: Float.self) }, Float(isum))
                }
                #expect(out[j * rows + r] == want, "activation row \(j), weight row \(r)")
            }
        }
    }

    /// Σ_s sc_s·Σ_{t in s}(q_t − 32)·y_t of one ggml Q6_K block against one
    /// q8_K block, and the block's d.
    static func blockSum(_ w: [UInt8], _ a: [UInt8]) -> (Int, Float) {
        var isum = 0
        for s in 0..<16 {
            var sum = 0
            for t in 16 * s..<16 * s + 16 {
                let half = t / 128, run = (t % 128) / 32, l = t % 32
                let low = Int(w[64 * half + 32 * (run % 2) + l] >> (run < 2 ? 0 : 4)) & 0xF
                let high = Int(w[128 + 32 * half + l] >> (2 * run)) & 3
                sum += ((low | high << 4) - 32) * Int(Int8(bitPattern: a[4 + t]))
            }
            isum += Int(Int8(bitPattern: w[192 + s])) * sum
        }
        let d = Float(Float16(bitPattern: UInt16(w[208]) | UInt16(w[209]) << 8))
        return (isum, d)
    }
}

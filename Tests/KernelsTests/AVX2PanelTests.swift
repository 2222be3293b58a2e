import CKernels
import GGUF
import Testing
@testable import Kernels

/// The AVX2 K-quant prompt panels (kpanel_avx2.h): Q4_K on its x8 layout
/// (bit for bit the direct kernel it replaces for more than eight rows) and
/// Q5_K / Q6_K on eight rows of ggml's layout, at one to 530 activation rows
/// (four-row passes, one-row tails, 64-row chunks and a short last one)
/// against the scalar dots; extreme blocks for the i16 sums.
@Suite("AVX2 K-quant panels")
struct AVX2PanelTests {
    static let count = 1024  // values per row: 4 blocks of 256
    static let rowCounts = [1, 3, 8, 40, 70, 300, 530]
    static let q4 = EightRowLayout(type: .q4_K, repack: moe_repack_q4_K_x8, unpack: moe_unpack_q4_K_x8)
    typealias Rows8 = (UnsafeRawPointer?, Int, Int64, UnsafeRawPointer?, Int, Int64, UnsafeMutablePointer<Float>?, Int, Int64) -> Void

    /// A ggml-layout panel product: out[j * rows + r].
    static func rows8(_ fn: Rows8, _ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * activations.count)
        let joined = activations.flatMap { $0 }
        weights.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                fn(w.baseAddress!, weights.count / rows, Int64(rows), a.baseAddress!, activations[0].count,
                   Int64(activations.count), &out, rows, Int64(count))
            }
        }
        return out
    }

    static func skipped(_ what: String) -> Bool {
        guard KernelISA.avx2.isSupported else {
            print("skipped: no AVX2 here, or MOED_KERNEL_ISA caps it (\(what))")
            return true
        }
        return false
    }

    @Test("Q4_K: the panel equals the direct x8 kernel bit for bit and agrees with the scalar dots", arguments: rowCounts)
    func q4K(m: Int) throws {
        if Self.skipped("Q4_K panel, \(m) rows") { return }
        let rows = 16
        let (weights, activations) = try Self.q4.inputs(rows: rows, count: Self.count, m: m, seed: 8100 + UInt64(m))
        let packed = Self.q4.repacked(weights, rows: rows, count: Self.count)
        let panel = EightRowLayout.product(moe_gemm_panel_q4_Kx8_q8_K_avx2, packed, rows: rows, activations, count: Self.count)
        let direct = EightRowLayout.productFourRowsACall(moe_gemm_q4_Kx8_q8_K_avx2, packed, rows: rows, activations,
                                                          count: Self.count)
        #expect(panel == direct)
        try Self.q4.expectAgrees(panel, weights, rows: rows, activations, count: Self.count, "Q4_K panel")
    }

    @Test("Q5_K and Q6_K: the ggml-layout panel agrees with the scalar dots", arguments: rowCounts)
    func q5Kq6K(m: Int) throws {
        if Self.skipped("Q5_K/Q6_K panels, \(m) rows") { return }
        let rows = 16
        for (type, fn) in [(GGMLType.q5_K, moe_gemm_rows8_q5_K_q8_K_avx2 as Rows8), (.q6_K, moe_gemm_rows8_q6_K_q8_K_avx2)] {
            let layout = EightRowLayout(type: type, repack: moe_repack_q4_K_x8, unpack: moe_unpack_q4_K_x8)  // inputs only
            let (weights, activations) = try layout.inputs(rows: rows, count: Self.count, m: m, seed: 8200 + UInt64(m))
            let out = Self.rows8(fn, weights, rows: rows, activations, count: Self.count)
            try layout.expectAgrees(out, weights, rows: rows, activations, count: Self.count, "\(type) panel")
        }
    }

    @Test("extreme blocks (Q5_K: every value 31, scales and mins 63; Q6_K: every value 63, scales -128) against ±127 stay exact in the i16 sums")
    func extremes() throws {
        if Self.skipped("K-quant panel extremes") { return }
        var q5 = [UInt8](repeating: 0xFF, count: 176)
        q5[0] = 0x00; q5[1] = 0x3C; q5[2] = 0x00; q5[3] = 0x3C  // d = dmin = 1
        var q6 = [UInt8](repeating: 0xFF, count: 210)
        for s in 192..<208 { q6[s] = 0x80 }  // scales -128
        q6[208] = 0x00; q6[209] = 0x3C  // d = 1
        for (type, fn, block) in [(GGMLType.q5_K, moe_gemm_rows8_q5_K_q8_K_avx2 as Rows8, q5), (.q6_K, moe_gemm_rows8_q6_K_q8_K_avx2, q6)] {
            let scalar = try #require(KernelTable.scalar[type])
            let rows = 8
            let weights = [UInt8]((0..<rows * Self.count / 256).flatMap { _ in block })
            let ones = scalar.quantizedActivations([Float](repeating: 1, count: Self.count))
            let minus = scalar.quantizedActivations([Float](repeating: -1, count: Self.count))
            let alternating = scalar.quantizedActivations((0..<Self.count).map { $0 % 2 == 0 ? -1 : 1 })
            let activations = [ones, minus, alternating, ones, minus, minus, ones, alternating, minus]
            let out = Self.rows8(fn, weights, rows: rows, activations, count: Self.count)
            let rowBytes = weights.count / rows
            for j in activations.indices {
                for r in 0..<rows {
                    let want = scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), activations[j], count: Self.count)
                    let got = out[j * rows + r]
                    #expect(abs(got - want) <= 1e-5 * max(abs(want), 1), "\(type) row \(r), input \(j): \(got) vs \(want)")
                }
            }
        }
    }

    @Test("the AVX2 table gives Q5_K and Q6_K the ggml-layout panel, the scalar one does not")
    func wiring() throws {
        if Self.skipped("panel wiring") { return }
        for type in [GGMLType.q5_K, .q6_K] {
            #expect(try #require(KernelTable(isa: .avx2)?[type]).eightRowPanelFunction != nil, "\(type)")
            #expect(try #require(KernelTable.scalar[type]).eightRowPanelFunction == nil, "\(type)")
        }
    }

    @Test("a prompt-sized product through MatmulContext (40 rows: five groups; 17 and 70 input rows, 1 and 2 threads) agrees with the scalar dots",
          arguments: [GGMLType.q5_K, .q6_K], [17, 70])
    func throughContext(type: GGMLType, m: Int) throws {
        if Self.skipped("\(type) panel through MatmulContext") { return }
        guard KernelTable.best.isa == .avx2 else { print("skipped: best level here is not avx2 (\(type) panel wiring)"); return }
        let rows = 40
        var rng = SeededGenerator(seed: 8400 + UInt64(m))
        let weights = randomWeights(type, count: rows * Self.count, &rng)
        let input = randomFloats(m * Self.count, &rng, scale: 2)
        let scalar = try #require(KernelTable.scalar[type])
        let activations = (0..<m).map { scalar.quantizedActivations(Array(input[$0 * Self.count..<($0 + 1) * Self.count])) }
        let layout = EightRowLayout(type: type, repack: moe_repack_q4_K_x8, unpack: moe_unpack_q4_K_x8)  // checks only
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            var output = [Float](repeating: .nan, count: m * rows)
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: type, rows: rows, columns: Self.count,
                                   input: input, inputRows: m, output: &output)
            }
            try layout.expectAgrees(output, weights, rows: rows, activations, count: Self.count, "\(type) \(threads) threads")
        }
    }
}

import CKernels
import GGUF
import Testing
@testable import Kernels

/// The eight-row Q5_0 layout (repack_q5_0*.c): the repack, its inverse
/// and the products on it against the scalar single-row dot of the original
/// rows, which the decode products equal bit for bit (the same integer block
/// sums and float steps).
@Suite("Interleaved Q5_0 kernels")
struct InterleavedQ5_0Tests {
    static let layout = EightRowLayout(type: .q5_0, repack: moe_repack_q5_0_x8, unpack: moe_unpack_q5_0_x8)

    @Test("unpacking gives back the original bytes")
    func roundTrip() throws {
        try Self.layout.expectRoundTrip(rows: 24, count: 96, seed: 5001)
    }

    @Test("the scalar product equals the scalar single-row dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q5_0x8_q8_0_ref, rows: 16, count: 256, m: m, seed: 5100 + UInt64(m))
    }

    /// Decoding (up to 7 rows, one pass over the weights: pairs of rows
    /// folded together and a lone last row). Each pair's preparation is on
    /// the stack up to 682 pair-blocks (5440 values at 7 rows), from 5472 in
    /// the thread's scratch buffer.
    @Test("avx512vnni, 1 to 7 activation rows: the table's repack and product equal the scalar dots bit for bit",
          needs(.avx512vnni, "AVX-512 VNNI"),
          arguments: [(256, 1), (256, 2), (256, 3), (256, 4), (256, 5), (256, 6), (256, 7), (896, 6), (5440, 7),
                      (5472, 7), (10944, 4), (16416, 5), (16416, 7), (65568, 2)])
    func vnniIsExact(count: Int, m: Int) throws {
        try Self.layout.expectTableProductExact(isa: .avx512vnni, rows: 16, count: count, m: m, seed: 5200 + UInt64(count + m))
    }

    /// Prompts (8 rows or more) take the sixteen-row panel filled from the
    /// x8 layout: 24 rows are a pair of groups and an odd one.
    @Test("avx512vnni, 8 or more activation rows (the panel): the product agrees with the scalar dots",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [(256, 8), (256, 9), (896, 64), (16416, 9), (65568, 8)])
    func vnniPanelAgrees(count: Int, m: Int) throws {
        try Self.layout.expectTableProductAgrees(isa: .avx512vnni, rows: 24, count: count, m: m, seed: 5300 + UInt64(count + m))
    }

    /// AVX2 (repack_q5_0_avx2.c): four activation rows a pass at any m,
    /// every output the scalar dot's bit for bit. The activations' block
    /// sums are on the stack up to 2048 row-blocks (m · count / 32), beyond
    /// in the thread's scratch buffer: (16416, 5) and (65568, 2) take that.
    @Test("avx2, 1 to 9 and 33 activation rows: the table's repack and product equal the scalar dots bit for bit",
          needs(.avx2, "AVX2"),
          arguments: [(256, 1), (256, 2), (256, 3), (256, 4), (256, 5), (256, 6), (256, 7), (256, 8), (256, 9),
                      (896, 33), (896, 64), (5472, 7), (16416, 5), (65568, 2)])
    func avx2IsExact(count: Int, m: Int) throws {
        try Self.layout.expectTableProductExact(isa: .avx2, rows: 24, count: count, m: m, seed: 5400 + UInt64(count + m))
    }

    /// u = q + 16 at 0 and 31 (q = -16 and 15) against ±127: four pieces'
    /// maddubs pairs add up in i16 to at most 8 · 31 · 127 = 31496 < 2^15.
    @Test("avx2: weights of -16 and 15 against activations of ±127 stay exact in the i16 sums")
    func avx2Extremes() throws {
        guard KernelISA.avx2.isSupported else { print("skipped: no avx2 here, or MOED_KERNEL_ISA caps it (Q5_0 x8 extremes)"); return }
        // d = 1, then qh and qs: all fifth bits and nibbles clear (u = 0) or set (u = 31)
        let low = [0x00, 0x3C] + [UInt8](repeating: 0x00, count: 20)
        let high = [0x00, 0x3C] + [UInt8](repeating: 0xFF, count: 20)
        // values alternating 0 and 31 within a block: qh 0x55…, nibbles 0x0F / 0xF0 by value
        let mixed = [0x00, 0x3C] + [UInt8](repeating: 0x55, count: 4) + [UInt8](repeating: 0x0F, count: 16)
        for one in [low, high, mixed] {
            let block = [UInt8]((0..<8).flatMap { _ in one })  // eight blocks: 256 values
            try Self.layout.expectKQuantExtremes(moe_gemm_q5_0x8_q8_0_avx2, block: block, count: 512)
            // and bit for bit through the table
            let rows = 24, count = 512
            let weights = [UInt8]((0..<rows * count / 256).flatMap { _ in block })
            let scalar = try Self.layout.scalar
            let plus = scalar.quantizedActivations([Float](repeating: 1, count: count))
            let minus = scalar.quantizedActivations([Float](repeating: -1, count: count))
            let activations = [plus, minus, plus, plus, minus]
            let out = try Self.layout.tableProduct(isa: .avx2, weights, rows: rows, activations, count: count)
            #expect(out == (try Self.layout.scalarDots(weights, rows: rows, activations, count: count)))
        }
    }
}

import CKernels
import GGUF
import Testing
@testable import Kernels

/// The eight-row Q8_0 layout (repack_q8_0*.c): the repack, its inverse, the
/// row lookup and the products on it against the scalar single-row dot of
/// the original rows, which the decode products equal bit for bit (the same
/// integer block sums and float steps).
@Suite("Interleaved Q8_0 kernels")
struct InterleavedQ8_0Tests {
    static let layout = EightRowLayout(type: .q8_0, repack: moe_repack_q8_0_x8, unpack: moe_unpack_q8_0_x8)

    @Test("unpacking gives back the original bytes")
    func roundTrip() throws {
        try Self.layout.expectRoundTrip(rows: 24, count: 96, seed: 8001)
    }

    @Test("a row read out of the layout equals the scalar dequantization of the original row")
    func rowLookup() throws {
        let rows = 24, count = 96
        let scalar = try Self.layout.scalar
        let (weights, _) = try Self.layout.inputs(rows: rows, count: count, m: 0, seed: 8002)
        let packed = Self.layout.repacked(weights, rows: rows, count: count)
        let rowBytes = weights.count / rows
        for r in [0, 5, 7, 8, 13, 23] {
            var out = [Float](repeating: .nan, count: count)
            packed.withUnsafeBytes { moe_dequant_row_q8_0_x8($0.baseAddress!, Int64(r), &out, Int64(count)) }
            #expect(out == scalar.dequantized(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), count: count), "row \(r)")
        }
        // the table's own lookup, where the layout is in use (KernelTable is nil for a level the CPU lacks)
        for isa in [KernelISA.avx2, .avx512vnni] {
            if isa.isSupported {
                #expect(try #require(KernelTable(isa: isa)?[.q8_0]).canReadInterleavedRows, "\(isa)")
            } else {
                print("skipped: the \(isa) table's Q8_0 row lookup (this CPU lacks \(isa))")
            }
        }
    }

    @Test("the scalar product equals the scalar single-row dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        try Self.layout.expectReferenceExact(moe_gemm_q8_0x8_q8_0_ref, rows: 16, count: 256, m: m, seed: 8100 + UInt64(m))
    }

    /// Decoding and several streams (up to 7 rows, one pass over the weights:
    /// pairs of rows folded together and a lone last row). Each pair's
    /// preparation is on the stack up to 682 pair-blocks (5440 values at 7
    /// rows), from 5472 in the thread's scratch buffer.
    @Test("avx512vnni, 1 to 7 activation rows: the table's repack and product equal the scalar dots bit for bit",
          needs(.avx512vnni, "AVX-512 VNNI"),
          arguments: [(256, 1), (256, 2), (256, 3), (256, 4), (256, 5), (256, 6), (256, 7), (896, 4), (896, 7),
                      (5440, 7), (5472, 7), (10944, 4), (16416, 5), (16416, 7), (65568, 2)])
    func vnniIsExact(count: Int, m: Int) throws {
        try Self.layout.expectTableProductExact(isa: .avx512vnni, rows: 16, count: count, m: m, seed: 8200 + UInt64(count + m))
    }

    /// Prompts (8 rows or more) take the sixteen-row panel filled from the
    /// x8 layout: 24 rows are a pair of groups and an odd one.
    @Test("avx512vnni, 8 or more activation rows (the panel): the product agrees with the scalar dots",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [(256, 8), (256, 9), (896, 64), (16416, 9), (65568, 8)])
    func vnniPanelAgrees(count: Int, m: Int) throws {
        try Self.layout.expectTableProductAgrees(isa: .avx512vnni, rows: 24, count: count, m: m, seed: 8300 + UInt64(count + m))
    }

    /// AVX2 (repack_q8_0_avx2.c): below twelve activation rows the direct
    /// kernel, from twelve the 16-bit panel (x8_panel_avx2.h: pairs of groups,
    /// 16-block segments, 64-row chunks; 24 rows make a pair and a lone
    /// group), every output the scalar dot's bit for bit.
    @Test("avx2, 1 to 9, 33 and 70 activation rows: the table's repack and product equal the scalar dots bit for bit",
          needs(.avx2, "AVX2"),
          arguments: [(256, 1), (256, 2), (256, 3), (256, 4), (256, 5), (256, 6), (256, 7), (256, 8), (256, 9),
                      (896, 33), (5472, 7), (16416, 5), (1056, 70), (16416, 9), (544, 12), (8960, 64), (256, 13)])
    func avx2IsExact(count: Int, m: Int) throws {
        try Self.layout.expectTableProductExact(isa: .avx2, rows: 24, count: count, m: m, seed: 8400 + UInt64(count + m))
    }

    @Test("avx2: weights of -128 and 127 against activations of ±127 stay exact (maddubs' i16 pairs |q|·127·2 < 2^15; the panel's madd pairs)")
    func avx2Extremes() throws {
        guard KernelISA.avx2.isSupported else { print("skipped: no avx2 here, or MOED_KERNEL_ISA caps it (Q8_0 x8 extremes)"); return }
        for value: UInt8 in [0x80, 0x7F] {
            var one = [UInt8](repeating: value, count: 34)
            one[0] = 0x00; one[1] = 0x3C  // d = 1
            let block = [UInt8]((0..<8).flatMap { _ in one })  // eight blocks: 256 values
            try Self.layout.expectKQuantExtremes(moe_gemm_q8_0x8_q8_0_avx2, block: block, count: 512)
        }
    }

    @Test("the avx512 level keeps Q8_0 in ggml's layout (no AVX-512-without-VNNI product)")
    func otherLevels() throws {
        for isa in supportedISAs where isa != .avx512vnni && isa != .avx2 {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            #expect(!kernel.canInterleave && !kernel.canReadInterleavedRows, "\(isa)")
        }
    }
}

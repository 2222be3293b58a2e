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
    static func repacked(_ weights: [UInt8], rows: Int, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { moe_repack_q8_0_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(count)) }
        }
        return out
    }

    /// The scalar dots of every (activation, weight row) pair, `[j * rows + r]`.
    static func scalarDots(_ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) throws -> [Float] {
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let rowBytes = weights.count / rows
        return activations.flatMap { a in
            (0..<rows).map { r in scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), a, count: count) }
        }
    }

    static func inputs(rows: Int, count: Int, m: Int, seed: UInt64) throws -> ([UInt8], [[UInt8]]) {
        var rng = SeededGenerator(seed: seed)
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let weights = randomWeights(.q8_0, count: rows * count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j % 3))) }
        return (weights, activations)
    }

    @Test("unpacking gives back the original bytes")
    func roundTrip() throws {
        let rows = 24, count = 96
        let (weights, _) = try Self.inputs(rows: rows, count: count, m: 0, seed: 8001)
        let packed = Self.repacked(weights, rows: rows, count: count)
        #expect(packed != weights)
        var back = [UInt8](repeating: 0, count: weights.count)
        packed.withUnsafeBytes { src in
            back.withUnsafeMutableBytes { moe_unpack_q8_0_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(count)) }
        }
        #expect(back == weights)
    }

    @Test("a row read out of the layout equals the scalar dequantization of the original row")
    func rowLookup() throws {
        let rows = 24, count = 96
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let (weights, _) = try Self.inputs(rows: rows, count: count, m: 0, seed: 8002)
        let packed = Self.repacked(weights, rows: rows, count: count)
        let rowBytes = weights.count / rows
        for r in [0, 5, 7, 8, 13, 23] {
            var out = [Float](repeating: .nan, count: count)
            packed.withUnsafeBytes { moe_dequant_row_q8_0_x8($0.baseAddress!, Int64(r), &out, Int64(count)) }
            #expect(out == scalar.dequantized(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), count: count), "row \(r)")
        }
    }

    @Test("the scalar product equals the scalar single-row dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        let rows = 16, count = 256
        let (weights, activations) = try Self.inputs(rows: rows, count: count, m: m, seed: 8100 + UInt64(m))
        let packed = Self.repacked(weights, rows: rows, count: count)
        var out = [Float](repeating: .nan, count: rows * m)
        let joined = activations.flatMap { $0 }
        packed.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                moe_gemm_q8_0x8_q8_0_ref(w.baseAddress!, Int64(rows), a.baseAddress!, activations[0].count, Int64(m),
                                         &out, rows, Int64(count))
            }
        }
        #expect(out == (try Self.scalarDots(weights, rows: rows, activations, count: count)))
    }

    /// The table's repack and product at avx512vnni for `m` activation rows.
    static func vnniProduct(_ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) throws -> [Float] {
        let kernel = try #require(KernelTable(isa: .avx512vnni)?[.q8_0])
        #expect(kernel.canInterleave && kernel.canReadInterleavedRows)
        var packed = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            packed.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: count) }
        }
        #expect(packed == Self.repacked(weights, rows: rows, count: count))
        return InterleavedKernelTests.product(kernel, packed, rows: rows, activations, count: count)
    }

    /// Decoding and several streams (up to 7 rows). 256 values: one chunk
    /// of prepared activation sums; 16416: a chunk is one row; 65568: too
    /// long even for one, Σy per block.
    @Test("avx512vnni, 1 to 7 activation rows: the table's repack and product equal the scalar dots bit for bit",
          needs(.avx512vnni, "AVX-512 VNNI"),
          arguments: [(256, 1), (256, 2), (256, 3), (256, 4), (256, 5), (256, 6), (256, 7), (896, 4), (16416, 5),
                      (65568, 2)])
    func vnniIsExact(count: Int, m: Int) throws {
        let rows = 16
        let (weights, activations) = try Self.inputs(rows: rows, count: count, m: m, seed: 8200 + UInt64(count + m))
        let out = try Self.vnniProduct(weights, rows: rows, activations, count: count)
        #expect(out == (try Self.scalarDots(weights, rows: rows, activations, count: count)))
    }

    /// Prompts (8 rows or more) take the sixteen-row panel filled from the
    /// x8 layout: 24 rows are a pair of groups and an odd one.
    @Test("avx512vnni, 8 or more activation rows (the panel): the product agrees with the scalar dots",
          needs(.avx512vnni, "AVX-512 VNNI"), arguments: [(256, 8), (256, 9), (896, 64), (16416, 9), (65568, 8)])
    func vnniPanelAgrees(count: Int, m: Int) throws {
        let rows = 24, tolerance = try #require(Tolerance.dot[.q8_0])
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let (weights, activations) = try Self.inputs(rows: rows, count: count, m: m, seed: 8300 + UInt64(count + m))
        let out = try Self.vnniProduct(weights, rows: rows, activations, count: count)
        let expected = try Self.scalarDots(weights, rows: rows, activations, count: count)
        let rowBytes = weights.count / rows
        for j in 0..<m {
            let x = dequantizedActivations(activations[j], type: .q8_0, count: count)
            for r in 0..<rows {
                let w = scalar.dequantized(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), count: count)
                let magnitude = zip(w, x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(out[j * rows + r]) - Double(expected[j * rows + r])) <= tolerance * magnitude,
                        "weight row \(r), activation row \(j)")
            }
        }
    }

    @Test("the other levels keep Q8_0 in ggml's layout (no AVX2 or AVX-512-without-VNNI product yet)")
    func otherLevels() throws {
        for isa in supportedISAs where isa != .avx512vnni {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            #expect(!kernel.canInterleave && !kernel.canReadInterleavedRows, "\(isa)")
        }
    }
}

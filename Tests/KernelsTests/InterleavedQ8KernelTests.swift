import CKernels
import GGUF
import Testing
@testable import Kernels

/// The eight-row interleaved Q8_0 layout (repack_q8_0*.c): the repack, its
/// inverse, single rows read back from it, and the products on it at every
/// ISA level against the scalar single-row dot of the original rows.
@Suite("Interleaved Q8_0 kernels")
struct InterleavedQ8KernelTests {
    static let count = 256  // values per row: 8 blocks
    static let blockBytes = 34

    static func interleaved(_ weights: [UInt8], rows: Int, count: Int = count) throws -> [UInt8] {
        let kernel = try #require(KernelTable.scalar[.q8_0])
        var out = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: count) }
        }
        return out
    }

    static func product(_ kernel: QuantKernel, _ packed: [UInt8], rows: Int, _ activations: [[UInt8]],
                        count: Int = count) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * activations.count)
        let joined = activations.flatMap { $0 }
        packed.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                kernel.interleavedProduct(weights: w.baseAddress!, rows: rows, a.baseAddress!,
                                          activationStride: activations[0].count, inputRows: activations.count,
                                          into: &out, outputStride: rows, count: count)
            }
        }
        return out
    }

    @Test("only Q8_0 can read single rows of the layout, at every ISA level")
    func whichTypes() throws {
        for isa in supportedISAs {
            let table = try #require(KernelTable(isa: isa))
            for type in matrixTypes { #expect(table[type]?.canReadInterleavedRows == (type == .q8_0), "\(type) at \(isa)") }
        }
    }

    @Test("unpacking gives back the original bytes, and every row read from the copy is the row dequantized")
    func roundTrip() throws {
        let rows = 24
        var rng = SeededGenerator(seed: 5102)
        let weights = randomWeights(.q8_0, count: rows * Self.count, &rng)
        let packed = try Self.interleaved(weights, rows: rows)
        #expect(packed != weights)
        var back = [UInt8](repeating: 0, count: weights.count)
        packed.withUnsafeBytes { src in
            back.withUnsafeMutableBytes { moe_unpack_q8_0_x8(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(Self.count)) }
        }
        #expect(back == weights)
        let rowBytes = weights.count / rows
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            for r in 0..<rows {
                var row = [Float](repeating: .nan, count: Self.count)
                packed.withUnsafeBytes { kernel.dequantizeInterleavedRow($0.baseAddress!, row: r, into: &row, count: Self.count) }
                let expected = kernel.dequantized(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), count: Self.count)
                #expect(row == expected, "\(isa), row \(r)")
            }
        }
    }

    @Test("the scalar product equals the scalar single-row dot exactly", arguments: [1, 3, 5])
    func referenceIsExact(m: Int) throws {
        let rows = 16
        var rng = SeededGenerator(seed: 5103 + UInt64(m))
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let weights = randomWeights(.q8_0, count: rows * Self.count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(Self.count, &rng, scale: Float(1 + j))) }
        let out = Self.product(scalar, try Self.interleaved(weights, rows: rows), rows: rows, activations)
        let rowBytes = weights.count / rows
        for j in 0..<m {
            for r in 0..<rows {
                let expected = scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), activations[j], count: Self.count)
                #expect(out[j * rows + r] == expected, "weight row \(r), activation row \(j)")
            }
        }
    }

    /// Random weight bytes include -128 (one in 256), so this covers it too.
    @Test("every ISA level agrees with the scalar dots for 1 to 9 activation rows",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    func agreement(m: Int) throws {
        try Self.agree(rows: 24, count: Self.count, m: m, seed: 5200 + UInt64(m))
    }

    /// The AVX2 product converts activation scales for up to 4096 blocks of
    /// rows at once (chunks of 64 rows at 2048 values) and takes
    /// the one-row path past 1024 blocks.
    @Test("every ISA level agrees past one chunk of prepared scales and on rows too long for them",
          arguments: [(2048, 70), (32800, 3)])
    func longRows(count: Int, m: Int) throws {
        try Self.agree(rows: 8, count: count, m: m, seed: 5300 + UInt64(m))
    }

    static func agree(rows: Int, count: Int, m: Int, seed: UInt64) throws {
        let tolerance = try #require(Tolerance.dot[.q8_0])
        var rng = SeededGenerator(seed: seed)
        let scalar = try #require(KernelTable.scalar[.q8_0])
        let weights = randomWeights(.q8_0, count: rows * count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j % 3))) }
        let packed = try interleaved(weights, rows: rows, count: count)
        let rowBytes = weights.count / rows
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            let out = product(kernel, packed, rows: rows, activations, count: count)
            for j in 0..<m {
                let x = dequantizedActivations(activations[j], type: .q8_0, count: count)
                for r in 0..<rows {
                    let w = Array(weights[r * rowBytes..<(r + 1) * rowBytes])
                    let expected = Double(scalar.dot(w, activations[j], count: count))
                    let magnitude = zip(scalar.dequantized(w, count: count), x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                    #expect(abs(Double(out[j * rows + r]) - expected) <= tolerance * magnitude,
                            "\(isa), count \(count), weight row \(r), activation row \(j)")
                }
            }
        }
    }

    /// |w| = 128 read unsigned, times ±127: pair sums of ±32512 still fit 16 bits.
    @Test("weights of -128 against activations of ±127 are exact", arguments: [Float(1), -1])
    func minusOneTwentyEight(sign: Float) throws {
        let rows = 8, count = 64
        let scalar = try #require(KernelTable.scalar[.q8_0])
        var weights = [UInt8](repeating: 0x80, count: rows * count / 32 * Self.blockBytes)
        for b in 0..<rows * count / 32 {  // d = 1
            weights[b * Self.blockBytes] = UInt8(half(1) & 0xff); weights[b * Self.blockBytes + 1] = UInt8(half(1) >> 8)
        }
        let activation = scalar.quantizedActivations([Float](repeating: sign, count: count))
        let packed = try Self.interleaved(weights, rows: rows, count: count)
        let expected = scalar.dot(Array(weights[0..<count / 32 * Self.blockBytes]), activation, count: count)
        // d_y = 1/127 (as a half), q_y = ±127: the dot is about ∓128 per value
        #expect(abs(Double(expected) + Double(sign) * 128 * Double(count)) <= 1e-3 * 128 * Double(count))
        for isa in supportedISAs {
            let kernel = try #require(KernelTable(isa: isa)?[.q8_0])
            let out = Self.product(kernel, packed, rows: rows, [activation, activation, activation, activation], count: count)
            for value in out { #expect(abs(value - expected) <= 1e-6 * abs(expected), "\(isa)") }
            let one = Self.product(kernel, packed, rows: rows, [activation], count: count)
            for value in one { #expect(abs(value - expected) <= 1e-6 * abs(expected), "\(isa), one row") }
        }
    }
}

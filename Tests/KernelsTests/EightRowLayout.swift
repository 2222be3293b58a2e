import CKernels
import GGUF
import Testing
@testable import Kernels

/// What the tests of every eight-row interleaved layout share (Q4_1, Q4_K,
/// Q5_K, Q6_K, Q5_0, Q8_0): the C repack and its inverse, inputs drawn from
/// a seed, products laid out `out[j * rows + r]` (activation row j, weight
/// row r), and the scalar single-row dots of the original rows that every
/// product on the layout is checked against.
struct EightRowLayout {
    typealias Repack = (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int64, Int64) -> Void
    /// A C product on the layout: weights, rows, activations, activation
    /// stride, activation rows, out, out stride, values per row.
    typealias Product = (UnsafeRawPointer?, Int64, UnsafeRawPointer?, Int, Int64, UnsafeMutablePointer<Float>?, Int, Int64) -> Void

    let type: GGMLType
    let repack: Repack
    let unpack: Repack

    func repacked(_ weights: [UInt8], rows: Int, count: Int) -> [UInt8] {
        Self.transformed(weights, rows: rows, count: count, by: repack)
    }

    func unpacked(_ packed: [UInt8], rows: Int, count: Int) -> [UInt8] {
        Self.transformed(packed, rows: rows, count: count, by: unpack)
    }

    private static func transformed(_ bytes: [UInt8], rows: Int, count: Int, by fn: Repack) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes.count)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { fn(src.baseAddress!, $0.baseAddress!, Int64(rows), Int64(count)) }
        }
        return out
    }

    var scalar: QuantKernel {
        get throws { try #require(KernelTable.scalar[type]) }
    }

    /// Random weights for `rows` rows of `count` values and `m` quantized
    /// activation rows of growing scale.
    func inputs(rows: Int, count: Int, m: Int, seed: UInt64) throws -> (weights: [UInt8], activations: [[UInt8]]) {
        var rng = SeededGenerator(seed: seed)
        let scalar = try scalar
        let weights = randomWeights(type, count: rows * count, &rng)
        let activations = (0..<m).map { j in scalar.quantizedActivations(randomFloats(count, &rng, scale: Float(1 + j % 3))) }
        return (weights, activations)
    }

    /// The scalar dots of every (activation row, weight row) pair.
    func scalarDots(_ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) throws -> [Float] {
        let scalar = try scalar
        let rowBytes = weights.count / rows
        return activations.flatMap { a in
            (0..<rows).map { r in scalar.dot(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), a, count: count) }
        }
    }

    static func product(_ fn: Product, _ packed: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * activations.count)
        let joined = activations.flatMap { $0 }
        packed.withUnsafeBytes { w in
            joined.withUnsafeBytes { a in
                fn(w.baseAddress!, Int64(rows), a.baseAddress!, activations[0].count, Int64(activations.count), &out, rows,
                   Int64(count))
            }
        }
        return out
    }

    /// The direct kernel's outputs at any m: the entry called four rows at
    /// a time (past eight rows it takes the panel), for the panel tests.
    static func productFourRowsACall(_ fn: Product, _ packed: [UInt8], rows: Int, _ activations: [[UInt8]],
                                     count: Int) -> [Float] {
        stride(from: 0, to: activations.count, by: 4).flatMap { j0 in
            product(fn, packed, rows: rows, Array(activations[j0..<min(j0 + 4, activations.count)]), count: count)
        }
    }

    static func product(_ kernel: QuantKernel, _ packed: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) -> [Float] {
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

    /// The table's repack (which must equal the C one) and product at `isa`.
    func tableProduct(isa: KernelISA, _ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) throws -> [Float] {
        let kernel = try #require(KernelTable(isa: isa)?[type])
        #expect(kernel.canInterleave, "\(type) at \(isa)")
        var packed = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            packed.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: count) }
        }
        #expect(packed == repacked(weights, rows: rows, count: count), "\(type) repack at \(isa)")
        return Self.product(kernel, packed, rows: rows, activations, count: count)
    }

    /// Unpacking a repacked matrix gives back its bytes.
    func expectRoundTrip(rows: Int, count: Int, seed: UInt64) throws {
        let (weights, _) = try inputs(rows: rows, count: count, m: 0, seed: seed)
        let packed = repacked(weights, rows: rows, count: count)
        #expect(packed != weights)
        #expect(unpacked(packed, rows: rows, count: count) == weights)
    }

    /// The scalar product on the layout equals the single-row dots exactly.
    func expectReferenceExact(_ reference: Product, rows: Int, count: Int, m: Int, seed: UInt64) throws {
        let (weights, activations) = try inputs(rows: rows, count: count, m: m, seed: seed)
        let out = Self.product(reference, repacked(weights, rows: rows, count: count), rows: rows, activations, count: count)
        #expect(out == (try scalarDots(weights, rows: rows, activations, count: count)))
    }

    /// `out` agrees with the scalar dots within the type's dot tolerance,
    /// relative to the sum of the products' magnitudes.
    func expectAgrees(_ out: [Float], _ weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int,
                      _ label: String) throws {
        let scalar = try scalar, tolerance = try #require(Tolerance.dot[type])
        let expected = try scalarDots(weights, rows: rows, activations, count: count)
        let rowBytes = weights.count / rows
        for j in activations.indices {
            let x = dequantizedActivations(activations[j], type: scalar.activationType, count: count)
            for r in 0..<rows {
                let w = scalar.dequantized(Array(weights[r * rowBytes..<(r + 1) * rowBytes]), count: count)
                let magnitude = zip(w, x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                let got = out[j * rows + r], want = expected[j * rows + r]
                #expect(abs(Double(got) - Double(want)) <= tolerance * max(magnitude, 1),
                        "\(label), weight row \(r), activation row \(j): \(got) vs \(want)")
            }
        }
    }

    /// The table's product at every level that has the layout agrees with
    /// the scalar dots; a level this CPU lacks is named as skipped.
    func expectAgreementAtEveryLevel(rows: Int, count: Int, m: Int, seed: UInt64) throws {
        let (weights, activations) = try inputs(rows: rows, count: count, m: m, seed: seed)
        var checked = 0
        for isa in KernelISA.allCases {
            guard isa.isSupported else {
                print("skipped: no \(isa) here, or MOED_KERNEL_ISA caps it (\(type) x8, \(m) rows)")
                continue
            }
            guard try #require(KernelTable(isa: isa)?[type]).canInterleave else { continue }
            let out = try tableProduct(isa: isa, weights, rows: rows, activations, count: count)
            try expectAgrees(out, weights, rows: rows, activations, count: count, "\(isa)")
            checked += 1
        }
        #expect(checked > 0, "no level of this CPU has \(type)'s x8 layout: nothing was checked")
    }

    /// The table's product at `isa` equals the scalar dots bit for bit
    /// (the decode products of the layouts read against q8_0 activations).
    func expectTableProductExact(isa: KernelISA, rows: Int, count: Int, m: Int, seed: UInt64) throws {
        let (weights, activations) = try inputs(rows: rows, count: count, m: m, seed: seed)
        let out = try tableProduct(isa: isa, weights, rows: rows, activations, count: count)
        #expect(out == (try scalarDots(weights, rows: rows, activations, count: count)))
    }

    /// The table's product at `isa` agrees with the scalar dots (prompts:
    /// the sixteen-row panel filled from the layout).
    func expectTableProductAgrees(isa: KernelISA, rows: Int, count: Int, m: Int, seed: UInt64) throws {
        let (weights, activations) = try inputs(rows: rows, count: count, m: m, seed: seed)
        let out = try tableProduct(isa: isa, weights, rows: rows, activations, count: count)
        try expectAgrees(out, weights, rows: rows, activations, count: count, "\(isa)")
    }

    /// Every activation row against every weight row within 1e-5 of the
    /// scalar dot: for extreme blocks, whose sums must stay exact in the
    /// kernels' integer lanes.
    private func expectExtremes(_ product: Product, weights: [UInt8], rows: Int, _ activations: [[UInt8]], count: Int) throws {
        let out = Self.product(product, repacked(weights, rows: rows, count: count), rows: rows, activations, count: count)
        let expected = try scalarDots(weights, rows: rows, activations, count: count)
        for (i, (got, want)) in zip(out, expected).enumerated() {
            #expect(abs(got - want) <= 1e-5 * max(abs(want), 1), "row \(i % rows), input \(i / rows)")
        }
    }

    /// The K-quant extremes: 24 rows of one `block` repeated (a pair of
    /// groups for the sixteen-row panel and an eight-row group) against
    /// activations of ±1 (quantized to ±127), in calls of two and five rows
    /// (the direct kernels) and nine (the panel).
    func expectKQuantExtremes(_ product: Product, block: [UInt8], count: Int) throws {
        let rows = 24
        let scalar = try scalar
        let weights = [UInt8]((0..<rows * count / 256).flatMap { _ in block })
        let ones = scalar.quantizedActivations([Float](repeating: 1, count: count))
        let alternating = scalar.quantizedActivations((0..<count).map { $0 % 2 == 0 ? -1 : 1 })
        let nine = [ones, alternating, ones, alternating, alternating, ones, ones, alternating, ones]
        for activations in [[ones, alternating], [ones, alternating, ones, alternating, alternating], nine] {
            try expectExtremes(product, weights: weights, rows: rows, activations, count: count)
        }
    }

    /// Rows 16–23 repeat rows 0–7: the sixteen-row panel (rows 0–15) must
    /// give the eight-row panel's (rows 16–23) outputs bit for bit.
    func expectSixteenRowsMatchEight(_ product: Product, count: Int, m: Int, seed: UInt64) throws {
        let (group, activations) = try inputs(rows: 8, count: count, m: m, seed: seed)
        let weights = group + group + group
        let out = Self.product(product, repacked(weights, rows: 24, count: count), rows: 24, activations, count: count)
        for j in 0..<m {
            for r in 0..<16 {
                #expect(out[j * 24 + r] == out[j * 24 + 16 + r % 8], "activation row \(j), weight row \(r)")
            }
        }
    }
}

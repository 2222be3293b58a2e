// K-quant dequantization: blocks packed from known numbers must decode to
// d*scale*q - dmin*min per the documented layout, evaluated in ggml's order
// ((d*scale)*q, then minus dmin*min) so random blocks must match bit for bit.
import CKernels
import Testing

private typealias Dequantizer = (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void

/// Expected Q4_K/Q5_K value of weight w (sub-blocks of 32).
private func expectedWithMins(_ b: KQuantBlock, _ w: Int) -> Float {
    let s = w / 32
    return Float(b.d) * Float(b.scales[s]) * Float(b.quants[w]) - Float(b.dmin) * Float(b.mins[s])
}

private func randomBlock(quantRange: ClosedRange<Int>, using rng: inout SeededGenerator) -> KQuantBlock {
    KQuantBlock(
        d: Float16(Float.random(in: -0.05...0.05, using: &rng)),
        dmin: Float16(Float.random(in: -0.05...0.05, using: &rng)),
        scales: (0..<8).map { _ in Int.random(in: 0...63, using: &rng) },
        mins: (0..<8).map { _ in Int.random(in: 0...63, using: &rng) },
        quants: (0..<256).map { _ in Int.random(in: quantRange, using: &rng) })
}

@Suite("K-quant dequantization")
struct KQuantDequantTests {
    /// Exact halves and small integers, so every expected value is exact.
    static let knownQ4 = KQuantBlock(
        d: 0.5, dmin: 0.25,
        scales: [1, 2, 3, 63, 17, 32, 48, 5], mins: [0, 1, 63, 7, 16, 33, 2, 60],
        quants: (0..<256).map { ($0 * 7 + $0 / 16) % 16 })

    @Test("Q4_K block with known scales and mins decodes to d*sc*q - dmin*m")
    func q4KKnown() {
        let b = Self.knownQ4
        let y = dequantize(packQ4K(b), count: 256, with: moe_dequant_q4_K)
        // Spot values worked by hand: w=0 → q=0, sc=1, m=0 → 0;
        // w=100 → sub-block 3 (sc 63, m 7), q=(700+6)%16=2 → 0.5*63*2 - 0.25*7.
        #expect(y[0] == 0)
        #expect(y[100] == 0.5 * 63 * 2 - 0.25 * 7)
        #expect(y == (0..<256).map { expectedWithMins(b, $0) })
    }

    @Test("Q5_K block uses the fifth bit from qh")
    func q5KKnown() {
        var b = Self.knownQ4
        // The w/32 term keeps each sub-block's pattern different.
        b.quants = (0..<256).map { ($0 * 13 + ($0 / 32) * 7 + 5) % 32 }
        let y = dequantize(packQ5K(b), count: 256, with: moe_dequant_q5_K)
        // w=255: sub-block 7 (sc 5, m 60), q=(3315+49+5)%32=9 → 0.5*5*9 - 0.25*60.
        #expect(y[255] == 7.5)
        #expect(y == (0..<256).map { expectedWithMins(b, $0) })
    }

    @Test("Q6_K block decodes to d*sc*(q-32) with signed 8-bit scales")
    func q6KKnown() {
        let b = KQuantBlock(
            d: 0.25, scales: [1, -1, 2, -2, 127, -128, 3, 0, 9, -9, 64, -64, 5, 6, 7, 8],
            quants: (0..<256).map { ($0 * 11 + ($0 / 64) * 5) % 64 - 32 })
        let y = dequantize(packQ6K(b), count: 256, with: moe_dequant_q6_K)
        // w=80: scale index 5 (-128), q=(880+5)%64-32=21 → 0.25*-128*21.
        #expect(y[80] == -672)
        #expect(y == (0..<256).map { Float(b.d) * Float(b.scales[$0 / 16]) * Float(b.quants[$0]) })
    }

    @Test("Q2_K block decodes with 4-bit scales and mins per 16 values")
    func q2KKnown() {
        let b = KQuantBlock(
            d: 0.5, dmin: 2, scales: (0..<16).map { (3 * $0 + 1) % 16 },
            mins: (0..<16).map { (5 * $0) % 16 }, quants: (0..<256).map { ($0 / 3) % 4 })
        let y = dequantize(packQ2K(b), count: 256, with: moe_dequant_q2_K)
        let expected = (0..<256).map { w -> Float in
            Float(b.d) * Float(b.scales[w / 16]) * Float(b.quants[w]) - Float(b.dmin) * Float(b.mins[w / 16])
        }
        #expect(y == expected)
    }

    @Test("Q3_K block decodes with signed 6-bit scales and the inverted high bit")
    func q3KKnown() {
        let b = KQuantBlock(
            d: 0.5, scales: [-32, 31, 0, 1, -1, 17, -17, 5, 9, -9, 30, -30, 2, 3, -4, 12],
            quants: (0..<256).map { ($0 * 5 + $0 / 32) % 8 })
        let y = dequantize(packQ3K(b), count: 256, with: moe_dequant_q3_K)
        let expected = (0..<256).map { w -> Float in
            Float(b.d) * Float(b.scales[w / 16]) * Float(b.quants[w] - 4)
        }
        #expect(y == expected)
    }

    @Test("Random Q4_K, Q5_K and Q6_K blocks decode bit-exactly", arguments: [4, 5, 6])
    func randomBlocks(bits: Int) {
        var rng = SeededGenerator(seed: UInt64(bits) * 7919)
        var packed: [UInt8] = []
        var expected: [Float] = []
        for _ in 0..<16 {
            if bits == 6 {
                var b = randomBlock(quantRange: -32...31, using: &rng)
                b.scales = (0..<16).map { _ in Int.random(in: -128...127, using: &rng) }
                packed += packQ6K(b)
                expected += (0..<256).map { Float(b.d) * Float(b.scales[$0 / 16]) * Float(b.quants[$0]) }
            } else {
                let b = randomBlock(quantRange: 0...(bits == 4 ? 15 : 31), using: &rng)
                packed += bits == 4 ? packQ4K(b) : packQ5K(b)
                expected += (0..<256).map { expectedWithMins(b, $0) }
            }
        }
        let fn: Dequantizer = bits == 4 ? moe_dequant_q4_K : bits == 5 ? moe_dequant_q5_K : moe_dequant_q6_K
        let y = dequantize(packed, count: expected.count, with: fn)
        #expect(y.map(\.bitPattern) == expected.map(\.bitPattern))
    }
}

// Q8_K activation quantization and the K-quant x Q8_K dot products.
import CKernels
import Testing

private typealias DotFunction = (UnsafeRawPointer?, UnsafeRawPointer?, Int64) -> Float
private typealias Dequantizer = (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void

/// Scalar dot vs dequantize-then-dot: both are exact sums of the same
/// products, so they differ only by float rounding in the per-block scaling.
private let referenceTolerance = 1e-5
/// SIMD vs scalar dot: same integer sums, different float accumulation order.
private let simdTolerance = 1e-5

private let hasAVX2 = moe_isa_supported(MOE_ISA_AVX2) != 0

private enum WeightType: String, CaseIterable, Sendable {
    case q4K = "Q4_K", q5K = "Q5_K", q6K = "Q6_K"

    var blockBytes: Int {
        switch self {
        case .q4K: 144
        case .q5K: 176
        case .q6K: 210
        }
    }
    /// Where the f16 scales sit in a block.
    var halfOffsets: [Int] { self == .q6K ? [208] : [0, 2] }
    var dequant: Dequantizer {
        switch self {
        case .q4K: moe_dequant_q4_K
        case .q5K: moe_dequant_q5_K
        case .q6K: moe_dequant_q6_K
        }
    }
    var ref: DotFunction {
        switch self {
        case .q4K: moe_dot_q4_K_q8_K_ref
        case .q5K: moe_dot_q5_K_q8_K_ref
        case .q6K: moe_dot_q6_K_q8_K_ref
        }
    }
    var avx2: DotFunction {
        switch self {
        case .q4K: moe_dot_q4_K_q8_K_avx2
        case .q5K: moe_dot_q5_K_q8_K_avx2
        case .q6K: moe_dot_q6_K_q8_K_avx2
        }
    }

    /// Random bytes for every field, with finite, moderate f16 scales.
    func randomRow(blocks: Int, using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = (0..<(blocks * blockBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for block in 0..<blocks {
            for offset in halfOffsets {
                let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
                bytes[block * blockBytes + offset] = UInt8(h & 0xff)
                bytes[block * blockBytes + offset + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }
}

private func dot(_ fn: DotFunction, _ weights: [UInt8], _ acts: Q8KRow, count n: Int) -> Double {
    weights.withUnsafeBytes { w in acts.bytes.withUnsafeBytes { Double(fn(w.baseAddress, $0.baseAddress, Int64(n))) } }
}

@Suite("Q8_K quantization")
struct Q8KQuantizeTests {
    @Test("Values round to nearest with ties to even when the scale is 1")
    func roundsToNearestEven() {
        // max is -127, so iscale = -127/max = 1 and each q is x rounded.
        var x = [Float](repeating: 0, count: 256)
        x[0] = -127
        x[1...8] = [2.5, 3.5, -2.5, 0.49, 0.51, -126.5, 126.6, 1.5]
        let row = Q8KRow(quantizing: x)
        #expect((0..<9).map { row.quant(0, $0) } == [-127, 2, 4, -2, 0, 1, -126, 127, 2])
        #expect(row.d(0) == 1)
    }

    @Test("The largest magnitude maps to -127 and d undoes the scale")
    func largestMapsToMinus127() {
        let x = (0..<512).map { Float($0 % 256) / 8 - 10 }  // max |x| = 21.875 at the top
        let row = Q8KRow(quantizing: x)
        for block in 0..<2 {
            let iscale = Float(-127) / 21.875
            #expect(row.d(block) == 1 / iscale)
            #expect(row.quant(block, 255) == -127)
            for j in 0..<256 {
                let expected = min(127, Int((iscale * x[256 * block + j]).rounded(.toNearestOrEven)))
                #expect(row.quant(block, j) == expected)
            }
        }
    }

    @Test("bsums are the sums of each 16 quants")
    func blockSums() {
        var rng = SeededGenerator(seed: 42)
        let row = Q8KRow(quantizing: (0..<768).map { _ in Float.random(in: -3...3, using: &rng) })
        for block in 0..<3 {
            for group in 0..<16 {
                let sum = (0..<16).reduce(0) { $0 + row.quant(block, 16 * group + $1) }
                #expect(row.bsum(block, group) == sum)
            }
        }
    }

    @Test("An all-zero block quantizes to zero scale, quants and sums")
    func zeroBlock() {
        let row = Q8KRow(quantizing: [Float](repeating: 0, count: 256))
        #expect(row.d(0) == 0)
        #expect((0..<256).allSatisfy { row.quant(0, $0) == 0 })
        #expect((0..<16).allSatisfy { row.bsum(0, $0) == 0 })
    }
}

@Suite("K-quant x Q8_K dot products")
struct KQuantDotTests {
    static let blocks = 24

    private static func randomCase(_ type: WeightType, seed: UInt64) -> (weights: [UInt8], acts: Q8KRow, x: [Float]) {
        var rng = SeededGenerator(seed: seed)
        let weights = type.randomRow(blocks: blocks, using: &rng)
        let x = (0..<(blocks * 256)).map { _ in Float.random(in: -2...2, using: &rng) }
        return (weights, Q8KRow(quantizing: x), x)
    }

    @Test("Scalar dot equals dequantize(x) · dequantize(q8_K(y))", arguments: WeightType.allCases)
    private func referenceMatchesDequantizedDot(type: WeightType) {
        let n = Self.blocks * 256
        let (weights, acts, _) = Self.randomCase(type, seed: 1)
        let w = dequantize(weights, count: n, with: type.dequant)
        let a = dequantize(acts.bytes, count: n, with: moe_dequant_q8_K)
        let products = zip(w, a).map { Double($0) * Double($1) }
        let magnitude = products.reduce(0) { $0 + abs($1) }
        let got = dot(type.ref, weights, acts, count: n)
        #expect(magnitude > 0)
        #expect(abs(got - products.reduce(0, +)) <= referenceTolerance * magnitude)
    }

    @Test("AVX2 dot matches the scalar reference", .enabled(if: hasAVX2, "needs a CPU with AVX2"), arguments: WeightType.allCases)
    private func avx2MatchesReference(type: WeightType) {
        let n = Self.blocks * 256
        for seed in UInt64(10)..<UInt64(20) {
            let (weights, acts, _) = Self.randomCase(type, seed: seed)
            let w = dequantize(weights, count: n, with: type.dequant)
            let a = dequantize(acts.bytes, count: n, with: moe_dequant_q8_K)
            let magnitude = zip(w, a).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let ref = dot(type.ref, weights, acts, count: n)
            let simd = dot(type.avx2, weights, acts, count: n)
            #expect(abs(simd - ref) <= simdTolerance * magnitude, "seed \(seed)")
        }
    }

    @Test("AVX2 dot handles extreme quants and scales", .enabled(if: hasAVX2, "needs a CPU with AVX2"), arguments: WeightType.allCases)
    private func avx2Extremes(type: WeightType) {
        // All weight bits set (largest quants, scales, mins) against activations
        // of ±127: the i16 intermediate sums are at their largest here.
        let n = 256
        var weights = [UInt8](repeating: 0xff, count: type.blockBytes)
        for offset in type.halfOffsets {
            weights[offset] = 0x00; weights[offset + 1] = 0x3c  // 1.0
        }
        let x = (0..<n).map { Float($0 % 2 == 0 ? -1 : 1) }
        let acts = Q8KRow(quantizing: x)
        let w = dequantize(weights, count: n, with: type.dequant)
        let a = dequantize(acts.bytes, count: n, with: moe_dequant_q8_K)
        let exact = zip(w, a).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let magnitude = zip(w, a).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(dot(type.avx2, weights, acts, count: n) - exact) <= simdTolerance * magnitude)
    }
}

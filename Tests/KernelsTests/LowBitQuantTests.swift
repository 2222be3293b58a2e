// Q2_K, Q3_K, IQ4_NL and IQ4_XS: the IQ4 block layouts read back from bytes
// packed here from ggml's documented layout (ggml-common.h), and every SIMD
// level's dots against the scalar reference at extreme blocks, each level a
// test of its own that says "skipped" where the CPU lacks it (one-row dots
// and, for the q8_K types, gemm4). Random blocks
// at every level are in SIMDAgreementTests (these types are matrixTypes).
import CKernels
import GGUF
import Testing
@testable import Kernels

/// ggml's kvalues_iq4nl, written out again so the test does not read the
/// table it checks.
private let levels: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
private let lowBitTypes: [GGMLType] = [.q2_K, .q3_K, .iq4_nl, .iq4_xs]

private func halfBytes(_ value: Float) -> [UInt8] {
    let bits = Float16(value).bitPattern
    return [UInt8(bits & 0xff), UInt8(bits >> 8)]
}

/// 16 bytes of IQ4 indices: low nibble of byte j is weight j, high nibble weight j + 16.
private func packIndices(_ indices: [Int]) -> [UInt8] {
    (0..<16).map { (j: Int) -> UInt8 in UInt8(indices[j] | indices[j + 16] << 4) }
}

/// Blocks whose every byte is one pattern, scales 1.0: the largest and
/// smallest quants, indices and sub-block scales.
private func patternWeights(_ type: GGMLType, blocks: Int, pattern: UInt8) -> [UInt8] {
    var bytes = [UInt8](repeating: pattern, count: blocks * type.bytesPerBlock)
    let offsets: [Int] = switch type {
    case .q2_K: [80, 82]
    case .q3_K: [108]
    default: [0]
    }
    for block in 0..<blocks {
        for offset in offsets { bytes.replaceSubrange(block * type.bytesPerBlock + offset ..< block * type.bytesPerBlock + offset + 2, with: halfBytes(1)) }
    }
    return bytes
}

/// Every dot of `isa` for the four types against the scalar one, on pattern
/// blocks against activations of ±127 (the largest i16 pair sums) and on
/// random blocks with an odd number of 32-value blocks for IQ4_NL.
private func checkLevel(_ isa: KernelISA) throws {
    let table = try #require(KernelTable(isa: isa))
    for type in lowBitTypes {
        let kernel = try table.matrixKernel(for: type), scalar = try #require(KernelTable.scalar[type])
        #expect(kernel.canMultiply && kernel.activationType == (type == .iq4_nl ? .q8_0 : .q8_K))
        let count = type == .iq4_nl ? 32 * 9 : 256 * 3
        var rng = SeededGenerator(seed: UInt64(type.rawValue) * 7 + UInt64(isa.rawValue))
        let patterns: [UInt8] = [0x00, 0xFF, 0x80, 0x7F, 0x5A]
        let weights: [[UInt8]] = patterns.map { patternWeights(type, blocks: count / type.blockSize, pattern: $0) }
            + [randomWeights(type, count: count, &rng)]
        let alternating: [Float] = (0..<count).map { (i: Int) -> Float in i % 2 == 0 ? 1 : -1 }
        let inputs: [[Float]] = [alternating, [Float](repeating: -1, count: count),
                                 randomFloats(count, &rng, scale: 3), randomFloats(count, &rng, scale: 0.5)]
        for w in weights {
            try checkFourRows(kernel, scalar, weights: w, inputs: inputs, count: count)
            for x in inputs {
                let a = scalar.quantizedActivations(x)
                #expect(kernel.quantizedActivations(x) == a, "\(type) at \(isa): activation bytes")
                let magnitude = zip(scalar.dequantized(w, count: count), dequantizedActivations(a, type: scalar.activationType, count: count))
                    .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                let want = Double(scalar.dot(w, a, count: count)), got = Double(kernel.dot(w, a, count: count))
                #expect(abs(got - want) <= 1e-5 * max(magnitude, 1), "\(type) at \(isa): \(got) vs \(want)")
            }
        }
    }
}

/// The four-activation-row kernel on prepared scales (gemm4, where the level
/// has one) against four scalar one-row dots.
private func checkFourRows(_ kernel: QuantKernel, _ scalar: QuantKernel, weights: [UInt8], inputs: [[Float]],
                           count: Int) throws {
    guard kernel.hasScaledFourRowDot else { return }
    let rows: [[UInt8]] = inputs.map { scalar.quantizedActivations($0) }
    let stride = rows[0].count, packed: [UInt8] = rows.flatMap { $0 }
    var scales = [Float](repeating: .nan, count: count / kernel.activationBlockSize * kernel.scalesPerBlock)
    var four = [Float](repeating: .nan, count: 4)
    weights.withUnsafeBytes { w in
        packed.withUnsafeBytes { a in
            kernel.activationScales4(a.baseAddress!, activationStride: stride, into: &scales, count: count)
            kernel.dot4(w.baseAddress!, a.baseAddress!, activationStride: stride, scales: scales, into: &four, count: count)
        }
    }
    for j in 0..<4 {
        let want = Double(scalar.dot(weights, rows[j], count: count))
        let magnitude = zip(scalar.dequantized(weights, count: count),
                            dequantizedActivations(rows[j], type: scalar.activationType, count: count))
            .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(Double(four[j]) - want) <= 1e-5 * max(magnitude, 1), "\(kernel.type) at \(kernel.isa): gemm4 row \(j)")
    }
}

@Suite("Q2_K, Q3_K, IQ4_NL and IQ4_XS kernels")
struct LowBitQuantTests {
    @Test("IQ4_NL: d times the level each nibble indexes, low nibbles first")
    func iq4nlLayout() throws {
        let indices: [Int] = (0..<32).map { (w: Int) -> Int in (w * 7 + 3) % 16 }
        let block = halfBytes(0.5) + packIndices(indices)
        let kernel = try #require(KernelTable.scalar[.iq4_nl])
        #expect(block.count == GGMLType.iq4_nl.bytesPerBlock)
        #expect(kernel.dequantized(block, count: 32) == indices.map { (i: Int) -> Float in 0.5 * levels[i] })
    }

    @Test("IQ4_XS: each sub-block's 6-bit scale minus 32, low bits in scales_l, high in scales_h")
    func iq4xsLayout() throws {
        let scales = [0, 1, 31, 32, 33, 47, 62, 63]
        var high: UInt16 = 0
        for (ib, s) in scales.enumerated() { high |= UInt16(s >> 4) << (2 * ib) }
        var low: [UInt8] = []
        for pair in 0..<4 {
            let first: Int = scales[2 * pair] & 0xf, second: Int = scales[2 * pair + 1] & 0xf
            low.append(UInt8(first | second << 4))
        }
        let indices: [Int] = (0..<256).map { (w: Int) -> Int in (w * 5 + w / 32) % 16 }
        var block: [UInt8] = halfBytes(0.25) + [UInt8(high & 0xff), UInt8(high >> 8)] + low
        for ib in 0..<8 { block += packIndices(Array(indices[32 * ib ..< 32 * ib + 32])) }
        #expect(block.count == GGMLType.iq4_xs.bytesPerBlock)
        let want: [Float] = (0..<256).map { (w: Int) -> Float in 0.25 * Float(scales[w / 32] - 32) * levels[indices[w]] }
        #expect(try #require(KernelTable.scalar[.iq4_xs]).dequantized(block, count: 256) == want)
    }

    @Test("GGUF sizes: IQ4_NL 18 bytes per 32, IQ4_XS 136 per 256")
    func sizes() {
        #expect(GGMLType.iq4_nl.byteCount(elements: 64) == 36)
        #expect(GGMLType.iq4_xs.byteCount(elements: 512) == 272)
        #expect(GGMLType.iq4_xs.byteCount(elements: 100) == nil)
        #expect(GGMLType(rawValue: 20) == .iq4_nl && GGMLType(rawValue: 23) == .iq4_xs)
    }

    @Test("the scalar level's dots agree with themselves through the table (pattern and random blocks)")
    func scalar() throws { try checkLevel(.scalar) }

    @Test("AVX2 dots agree with the scalar ones", needs(.avx2, "AVX2"))
    func avx2() throws { try checkLevel(.avx2) }

    @Test("AVX-512 dots agree with the scalar ones", needs(.avx512, "AVX-512 F/BW"))
    func avx512() throws { try checkLevel(.avx512) }

    @Test("AVX-512 VNNI dots agree with the scalar ones", needs(.avx512vnni, "AVX-512 VNNI"))
    func avx512vnni() throws { try checkLevel(.avx512vnni) }
}

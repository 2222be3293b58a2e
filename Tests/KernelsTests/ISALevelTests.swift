import CKernels
import GGUF
import Testing
@testable import Kernels

private let hasBF16 = moe_cpu_has("avx512bf16") != 0

/// Weight rows whose every quant byte is one pattern (scales 1.0): q8_0
/// gets -128, 127, -1 and 0; the 4- and 5-bit types their largest and
/// smallest values and mixes. With activations of ±127 the integer sums
/// reach the ranges where an int16 sum or a saturating multiply would break.
private func extremeWeights(_ type: GGMLType, blocks: Int) -> [[UInt8]] {
    let scales: [Int] = [.q4_1, .q5_1].contains(type) ? [0, 2] : [0]
    return [0x80, 0x7F, 0xFF, 0x00].map { pattern in
        var bytes = [UInt8](repeating: UInt8(pattern), count: blocks * type.bytesPerBlock)
        for block in 0..<blocks {
            for offset in scales {
                bytes[block * type.bytesPerBlock + offset] = 0x00  // binary16 1.0 = 0x3C00
                bytes[block * type.bytesPerBlock + offset + 1] = 0x3C
            }
        }
        return bytes
    }
}

/// Four activation rows: all +1, all -1, alternating, and the alternation
/// reversed every 3 values, each quantizing to ±127.
private func extremeActivations(count: Int) -> [[Float]] {
    [(0..<count).map { _ in 1 }, (0..<count).map { _ in -1 },
     (0..<count).map { $0 % 2 == 0 ? 1 : -1 }, (0..<count).map { ($0 / 3) % 2 == 0 ? -1 : 1 }]
}

/// Every multi-row path of `kernel` (dot, dot4 over activation rows, dot4
/// over weight rows, the scaled four-row dot, alone and over runs) against the scalar one-row dot
/// of each (weight row, activation row) pair.
private func checkAllPaths(_ kernel: QuantKernel, weights: [[UInt8]], inputs: [[Float]], count: Int) throws {
    let scalar = try #require(KernelTable.scalar[kernel.type])
    let tolerance = try #require(Tolerance.dot[kernel.type])
    let activations = inputs.map { scalar.quantizedActivations($0) }
    let stride = activations[0].count, rowBytes = weights[0].count
    let packedActivations = activations.flatMap { $0 }, packedWeights = weights.flatMap { $0 }
    func expect(_ value: Float, row r: Int, input j: Int, _ path: String) {
        let reference = Double(scalar.dot(weights[r], activations[j], count: count))
        let magnitude = zip(scalar.dequantized(weights[r], count: count),
                            dequantizedActivations(activations[j], type: scalar.activationType, count: count))
            .reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(Double(value) - reference) <= tolerance * max(magnitude, 1),
                "\(kernel.type) at \(kernel.isa), \(path), weight row \(r), input \(j): \(value) vs \(reference)")
    }
    var scales = [Float](repeating: .nan, count: max(1, count / kernel.activationBlockSize * kernel.scalesPerBlock))
    packedWeights.withUnsafeBytes { w in
        packedActivations.withUnsafeBytes { a in
            kernel.activationScales4(a.baseAddress!, activationStride: stride, into: &scales, count: count)
            var four = [Float](repeating: .nan, count: 4)
            for r in 0..<4 {
                let row = w.baseAddress! + r * rowBytes
                for j in 0..<4 { expect(kernel.dot(row, a.baseAddress! + j * stride, count: count), row: r, input: j, "dot") }
                kernel.dot4(row, a.baseAddress!, activationStride: stride, into: &four, count: count)
                for j in 0..<4 { expect(four[j], row: r, input: j, "dot4") }
                kernel.dot4(row, a.baseAddress!, activationStride: stride, scales: scales, into: &four, count: count)
                for j in 0..<4 { expect(four[j], row: r, input: j, "scaled dot4") }
            }
            for j in 0..<4 {
                kernel.dot4(weights: w.baseAddress!, weightStride: rowBytes, a.baseAddress! + j * stride, into: &four, count: count)
                for r in 0..<4 { expect(four[r], row: r, input: j, "dotr4") }
            }
            // decode over runs of 4 and 3 weight rows (dot_rows, or dotr4 and dot)
            for rows in [4, 3] {
                var run = [Float](repeating: .nan, count: rows)
                kernel.dotRows(weights: w.baseAddress!, weightStride: rowBytes, rows: rows, a.baseAddress! + 2 * stride,
                               into: &run, count: count)
                for r in 0..<rows { expect(run[r], row: r, input: 2, "dot_rows over \(rows) rows") }
            }
            // runs of 4 and 3 weight rows: whole register tiles and leftovers
            for rows in [4, 3] where kernel.hasScaledFourRowDot {
                var run = [Float](repeating: .nan, count: 4 * rows)
                let ran = kernel.dot4Rows(weights: w.baseAddress!, weightStride: rowBytes, rows: rows, a.baseAddress!,
                                          activationStride: stride, scales: scales, into: &run, outputStride: rows, count: count)
                #expect(ran)
                for r in 0..<rows { for j in 0..<4 { expect(run[j * rows + r], row: r, input: j, "run of \(rows) rows") } }
            }
        }
    }
}

private let classicQuants: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0]

private func checkExtremes(_ isa: KernelISA) throws {
    let table = try #require(KernelTable(isa: isa))
    for type in classicQuants {
        for blocks in [1, 3, 8] {
            try checkAllPaths(try table.matrixKernel(for: type), weights: extremeWeights(type, blocks: blocks),
                              inputs: extremeActivations(count: 32 * blocks), count: 32 * blocks)
        }
    }
}

/// Float weights at lengths around the kernels' 16- and 32-value chunks.
private func checkFloatTails(_ isa: KernelISA, types: [GGMLType] = [.f32, .f16, .bf16]) throws {
    let table = try #require(KernelTable(isa: isa))
    for type in types {
        for count in [1, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 96, 100, 576] {
            var rng = SeededGenerator(seed: UInt64(count) * 31 + UInt64(type.rawValue))
            let weights = (0..<4).map { _ in randomWeights(type, count: count, &rng) }
            let inputs = (0..<4).map { j in randomFloats(count, &rng, scale: Float(1 + j)) }
            try checkAllPaths(try table.matrixKernel(for: type), weights: weights, inputs: inputs, count: count)
        }
    }
}

@Suite("Each ISA level against the scalar reference, extremes and tails")
struct ISALevelTests {
    @Test("AVX2 kernels agree with the scalar ones at extreme quants and float tails", needs(.avx2, "AVX2"))
    func avx2() throws {
        try checkExtremes(.avx2)
        try checkFloatTails(.avx2)
    }

    @Test("AVX-512 kernels agree with the scalar ones at extreme quants and float tails", needs(.avx512, "AVX-512 F/BW"))
    func avx512() throws {
        try checkExtremes(.avx512)
        try checkFloatTails(.avx512)
    }

    @Test("AVX-512 VNNI kernels agree with the scalar ones at extreme quants and float tails",
          needs(.avx512vnni, "AVX-512 VNNI"))
    func avx512vnni() throws {
        try checkExtremes(.avx512vnni)
        try checkFloatTails(.avx512vnni)
    }

    @Test("the avx512vnni level takes the vdpbf16ps kernel for BF16 where the CPU has AVX-512 BF16",
          needs(.avx512vnni, "AVX-512 VNNI"), .enabled(if: hasBF16, "skipped: no AVX-512 BF16 here"))
    func bf16DotProduct() throws {
        let kernel = try #require(KernelTable(isa: .avx512vnni)?[.bf16])
        #expect(kernel.scalesPerBlock == 2, "the bf16-pairs layout (2 floats' room per value)")
        try checkFloatTails(.avx512vnni, types: [.bf16])
    }

    @Test("the scalar level is the reference itself: every path of it agrees with its one-row dot")
    func scalar() throws {
        try checkExtremes(.scalar)
        try checkFloatTails(.scalar)
    }
}

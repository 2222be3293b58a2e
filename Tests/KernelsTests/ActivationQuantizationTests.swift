import CKernels
import GGUF
import Testing
@testable import Kernels

/// Activation rounding as ggml's reference quantizers do it: scale so the
/// largest magnitude is 127, round half away from zero.
@Suite("Activation quantization")
struct ActivationQuantizationTests {
    /// amax = 127 makes d exactly 1, so the expected bytes are plain rounding.
    private let values: [Float] = [127, -127, 2.5, -2.5, 0.5, -0.5, 1.49, -1.51, 100.4, 3]
        + [Float](repeating: 0, count: 22)
    private let rounded: [Int8] = [127, -127, 3, -3, 1, -1, 1, -2, 100, 3] + [Int8](repeating: 0, count: 22)

    private func field16(_ bytes: [UInt8], at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }

    @Test("q8_0 (for q4_0, q5_0, q8_0): d = amax / 127, q rounded half away from zero", arguments: [GGMLType.q4_0, .q5_0, .q8_0])
    func q8_0(weights: GGMLType) {
        for isa in supportedISAs {
            let kernel = KernelTable(isa: isa)![weights]!
            #expect(kernel.activationType == .q8_0)
            let block = kernel.quantizedActivations(values)
            #expect(field16(block, at: 0) == half(1))
            #expect(block[2...].map { Int8(bitPattern: $0) } == rounded)
        }
    }

    @Test("q8_1 (for q4_1, q5_1) also stores s = d · Σq", arguments: [GGMLType.q4_1, .q5_1])
    func q8_1(weights: GGMLType) {
        let kernel = KernelTable.best[weights]!
        #expect(kernel.activationType == .q8_1)
        let block = kernel.quantizedActivations(values)
        #expect(field16(block, at: 0) == half(1))
        #expect(field16(block, at: 2) == half(Float(rounded.reduce(0) { $0 + Int($1) })))
        #expect(block[4...].map { Int8(bitPattern: $0) } == rounded)
    }

    @Test("a block of zeros gets d = 0 and zero bytes, not NaN")
    func zeros() {
        let block = KernelTable.best[.q4_0]!.quantizedActivations([Float](repeating: 0, count: 64))
        #expect(block.allSatisfy { $0 == 0 })
    }

    @Test("a scaled block keeps its largest value at ±127 and d = amax / 127 in half precision")
    func scaledBlock() {
        var rng = SeededGenerator(seed: 3)
        var x = randomFloats(32, &rng, scale: 0.3)
        x[7] = -0.9
        let block = KernelTable.best[.q8_0]!.quantizedActivations(x)
        #expect(field16(block, at: 0) == half(0.9 / 127))
        #expect(Int8(bitPattern: block[2 + 7]) == -127)
        let d = Float(Float16(0.9 / 127))
        for j in 0..<32 { #expect(abs(Float(Int8(bitPattern: block[2 + j])) * d - x[j]) <= d * 0.6 + 1e-6) }
    }

    @Test("f16 and bf16 activations are the nearest half values")
    func halves() {
        var rng = SeededGenerator(seed: 4)
        let x = randomFloats(40, &rng, scale: 10)
        let f16 = KernelTable.best[.f16]!.quantizedActivations(x)
        #expect((0..<40).map { field16(f16, at: 2 * $0) } == x.map(half))
        let bf16 = KernelTable.best[.bf16]!.quantizedActivations(x)
        #expect((0..<40).map { field16(bf16, at: 2 * $0) } == x.map(moe_fp32_to_bf16))
    }
}

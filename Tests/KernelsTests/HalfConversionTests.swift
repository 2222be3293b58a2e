import CKernels
import Testing
@testable import Kernels

@Suite("Half-precision conversions")
struct HalfConversionTests {
    @Test("fp32 to fp16 rounds to nearest even like Swift's Float16, subnormals and overflow included")
    func fp16MatchesSwift() {
        var rng = SeededGenerator(seed: 1)
        var values: [Float] = [0, -0, 1, -2, 65504, 65519.99, 65520, 1e9, -1e9, .infinity, -.infinity,
                               Float(bitPattern: 0x3300_0000), Float(bitPattern: 0x3300_0001),
                               Float(bitPattern: 0x3380_0000), 6.1035156e-05, 6.097555e-05, 1e-8]
        for _ in 0..<20_000 {
            // random bit patterns across the half range, normal and subnormal
            let exponent = UInt32.random(in: 96...145, using: &rng)
            let bits = (UInt32.random(in: 0...1, using: &rng) << 31) | (exponent << 23)
                | UInt32.random(in: 0..<(1 << 23), using: &rng)
            values.append(Float(bitPattern: bits))
        }
        for value in values {
            #expect(moe_fp32_to_fp16(value) == Float16(value).bitPattern, "value \(value)")
        }
    }

    @Test("fp16 to fp32 is exact for every half bit pattern")
    func fp16ToFloatExhaustive() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = moe_fp16_to_fp32(bits)
            #expect(actual.bitPattern == expected.bitPattern || (actual.isNaN && expected.isNaN), "bits \(bits)")
        }
    }

    @Test("F16C row conversion agrees with the scalar one both ways", .enabled(if: KernelISA.avx2.isSupported, "needs a CPU with AVX2 and F16C"))
    func f16cRows() throws {
        var rng = SeededGenerator(seed: 2)
        let values = randomFloats(1003, &rng, scale: 70000)
        var scalar = [UInt16](repeating: 0, count: values.count), simd = scalar
        moe_quantize_f16(values, &scalar, Int64(values.count))
        moe_quantize_f16_f16c(values, &simd, Int64(values.count))
        #expect(scalar == simd)
        var back1 = [Float](repeating: 0, count: values.count), back2 = back1
        moe_dequant_f16(scalar, &back1, Int64(values.count))
        moe_dequant_f16_f16c(scalar, &back2, Int64(values.count))
        #expect(back1.map(\.bitPattern) == back2.map(\.bitPattern))
    }

    @Test("bf16 keeps the top half of a float, rounding ties to even", arguments: [
        (Float(1), UInt16(0x3F80)),
        (Float(-3), UInt16(0xC040)),
        (Float(bitPattern: 0x3F80_8000), UInt16(0x3F80)),  // tie, even stays
        (Float(bitPattern: 0x3F81_8000), UInt16(0x3F82)),  // tie, odd rounds up
        (Float(bitPattern: 0x3F80_8001), UInt16(0x3F81)),  // above the tie
        (Float.infinity, UInt16(0x7F80)),
    ])
    func bf16Rounding(value: Float, bits: UInt16) {
        #expect(moe_fp32_to_bf16(value) == bits)
        #expect(moe_bf16_to_fp32(bits) == Float(bitPattern: UInt32(bits) << 16))
    }

    @Test("bf16 keeps NaN a quiet NaN")
    func bf16NaN() {
        let signalling = Float(bitPattern: 0x7F80_0001)
        #expect(moe_bf16_to_fp32(moe_fp32_to_bf16(signalling)).isNaN)
    }
}

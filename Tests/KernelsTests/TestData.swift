import TestSupport
import CKernels
import GGUF
@testable import Kernels

/// The tests' seeded generator (TestSupport), visible to every file of this module.
typealias SeededGenerator = TestSupport.SeededGenerator

/// Named tolerances for SIMD-versus-reference dot products, relative to
/// Σ|wᵢ·xᵢ|: the integer sums are exact, so only float summation order may
/// differ (plus double versus float accumulation in the float references).
enum Tolerance {
    static let dot: [GGMLType: Double] = [
        .f32: 1e-5, .f16: 1e-5, .bf16: 1e-5,
        .q4_0: 1e-5, .q4_1: 1e-5, .q5_0: 1e-5, .q5_1: 1e-5, .q8_0: 1e-5,
        .q4_K: 1e-4, .q5_K: 1e-4, .q6_K: 1e-4,
        .q2_K: 1e-4, .q3_K: 1e-4, .iq4_xs: 1e-4, .iq4_nl: 1e-5,
    ]
    /// matmul against a double-precision dequantize-then-dot of the same
    /// quantized activations.
    static let matmul = 1e-4
    /// The scalar reference against a double dot of the dequantized rows.
    /// Looser because Q8_1 keeps s = d·Σq rounded to half precision (as ggml
    /// does), which the min term of Q4_1/Q5_1 multiplies.
    static let referenceVersusDequantized = 1e-3
}

/// Weight types with matrix kernels, in table order.
let matrixTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K,
                                .q2_K, .q3_K, .iq4_nl, .iq4_xs]

/// The supported ISA levels of this CPU, with scalar first.
let supportedISAs: [KernelISA] = KernelISA.allCases.filter(\.isSupported)

func half(_ value: Float) -> UInt16 { Float16(value).bitPattern }

func randomFloats(_ count: Int, _ rng: inout SeededGenerator, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
}

/// Byte offsets of the binary16 scale fields inside one block of `type`.
private func scaleOffsets(_ type: GGMLType) -> [Int] {
    switch type {
    case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: return [0]
    case .q2_K: return [80, 82]
    case .q3_K: return [108]
    case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
    case .q6_K: return [208]
    default: return []
    }
}

/// `count` random weights of `type`: random quant bytes with scales in a
/// realistic range (no NaN or infinity), or random floats for float types.
func randomWeights(_ type: GGMLType, count: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    switch type {
    case .f32:
        return randomFloats(count, &rng).withUnsafeBytes { Array($0) }
    case .f16:
        return randomFloats(count, &rng).map(half).withUnsafeBytes { Array($0) }
    case .bf16:
        return randomFloats(count, &rng).map(moe_fp32_to_bf16).withUnsafeBytes { Array($0) }
    default:
        let blocks = count / type.blockSize
        var bytes = (0..<blocks * type.bytesPerBlock).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for block in 0..<blocks {
            for offset in scaleOffsets(type) {
                let sign: Float = Bool.random(using: &rng) ? 1 : -1
                let bits = half(sign * Float.random(in: 0.001...0.1, using: &rng))
                bytes[block * type.bytesPerBlock + offset] = UInt8(bits & 0xff)
                bytes[block * type.bytesPerBlock + offset + 1] = UInt8(bits >> 8)
            }
        }
        return bytes
    }
}

extension QuantKernel {
    func dequantized(_ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dequantize(src.baseAddress!, into: $0.baseAddress!, count: count) }
        }
        return out
    }

    func quantizedActivations(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: activationRowBytes(count: values.count)!)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { quantizeActivations(src.baseAddress!, into: $0.baseAddress!, count: values.count) }
        }
        return out
    }

    func dot(_ weights: [UInt8], _ activations: [UInt8], count: Int) -> Float {
        weights.withUnsafeBytes { w in activations.withUnsafeBytes { a in dot(w.baseAddress!, a.baseAddress!, count: count) } }
    }
}

/// Dequantizes activations stored in `type` with the scalar table.
func dequantizedActivations(_ bytes: [UInt8], type: GGMLType, count: Int) -> [Float] {
    KernelTable.scalar[type]!.dequantized(bytes, count: count)
}

import Foundation
import GGUF
import Kernels

/// Turns a dense weight matrix into one expert's bytes: dequantized,
/// perturbed by seeded noise, and stored in the chosen type with the kernel
/// library's own rounding (the q8_0 activation quantizer has the same block
/// format as q8_0 weights, so no second quantizer exists).
struct ExpertEncoder {
    let source: GGUFTensorInfo
    let sourceBytes: UnsafeRawBufferPointer
    let outputType: GGMLType
    let noise: Float
    let seed: UInt64

    init(source: GGUFTensorInfo, bytes: UnsafeRawBufferPointer, options: UpcycleOptions) throws {
        self.source = source
        sourceBytes = bytes
        noise = options.noise
        seed = options.seed
        switch options.expertType {
        case .same: outputType = source.type
        case .f32: outputType = .f32
        case .f16: outputType = .f16
        case .q8_0: outputType = .q8_0
        }
        guard outputType == source.type && noise == 0 || Self.canEncode(outputType) else {
            throw UpcycleError("tensor '\(source.name)' is \(source.type): with --noise > 0 experts must be "
                + "re-encoded; choose --expert-type f32, f16 or q8_0")
        }
        guard KernelTable.best[source.type] != nil else {
            throw UpcycleError("tensor '\(source.name)' has type \(source.type), which this build cannot read")
        }
        guard outputType.byteCount(elements: source.rowLength) != nil else {
            throw UpcycleError("tensor '\(source.name)' rows of \(source.rowLength) are not whole \(outputType) blocks")
        }
    }

    /// Types whose kernel quantizes activations into the weight format
    /// itself (f32, f16, q8_0), plus q4_1, the default model's own type.
    static func canEncode(_ type: GGMLType) -> Bool {
        if type == .q4_1 { return true }
        guard let k = KernelTable.best[type] else { return false }
        return k.activationType == type
    }

    /// Bytes of one expert.
    var expertByteCount: Int { outputType.byteCount(elements: source.elementCount) ?? 0 }

    /// Calls `emit` with expert `index`'s bytes; `stream` tells the noise
    /// apart between layers and matrices so each is independent of write order.
    func encode(expert index: Int, stream: UInt64, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        if outputType == source.type && noise == 0 {
            try emit(sourceBytes)   // an exact copy: no rounding at all
            return
        }
        let n = source.elementCount
        var values = [Float](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { v in
            KernelTable.best[source.type]!.dequantize(sourceBytes.baseAddress!, into: v.baseAddress!, count: n)
        }
        if noise > 0 { perturb(&values, expert: index, stream: stream) }
        let out = outputType == .q4_1 ? quantizeQ4_1(values) : quantizeWithKernel(values)
        try out.withUnsafeBytes { try emit($0) }
    }

    private func quantizeWithKernel(_ values: [Float]) -> [UInt8] {
        let kernel = KernelTable.best[outputType]!
        var out = [UInt8](repeating: 0, count: expertByteCount)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBytes { kernel.quantizeActivations(v.baseAddress!, into: $0.baseAddress!, count: v.count) }
        }
        return out
    }

    /// w += noise · rms(W) · N(0, 1), from a generator seeded by (seed, matrix, expert).
    private func perturb(_ values: inout [Float], expert: Int, stream: UInt64) {
        let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, values.count))).squareRoot()
        var random = NormalRandom(seed: seed, stream: stream &* 1_000_003 &+ UInt64(expert))
        let scale = Double(noise) * rms
        for i in values.indices { values[i] += Float(scale * random.next()) }
    }
}

/// Q4_1 weights as ggml's reference rounds them: per 32 values, m = min,
/// d = (max − min) / 15, q = min(15, ⌊(x − m) / d + ½⌋), nibbles packed low
/// half first. The kernel library has no Q4_1 quantizer to reuse (Q4_1's
/// activations are Q8_1), and re-encoding the default model's own type keeps
/// noisy experts at the dense file's bytes per weight.
func quantizeQ4_1(_ values: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count / 32 * 20)
    for start in stride(from: 0, to: values.count, by: 32) {
        let block = values[start..<start + 32]
        let lo = block.min() ?? 0, hi = block.max() ?? 0
        let d = (hi - lo) / 15
        let inverse: Float = d != 0 ? 1 / d : 0
        withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: Float16(lo).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        let q = block.map { UInt8(min(15, max(0, Int(($0 - lo) * inverse + 0.5)))) }
        for j in 0..<16 { out.append(q[j] | q[j + 16] << 4) }
    }
    return out
}

/// Seeded standard normal values (SplitMix64 + Box–Muller): deterministic
/// across runs and machines, independent of the engine's sampler RNG.
struct NormalRandom {
    private var state: UInt64
    private var spare: Double?

    init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
    }

    private mutating func nextBits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    private mutating func uniform() -> Double { (Double(nextBits() >> 11) + 1) / 9_007_199_254_740_992 }

    mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(uniform())).squareRoot(), theta = 2 * Double.pi * uniform()
        spare = r * sin(theta)
        return r * cos(theta)
    }
}

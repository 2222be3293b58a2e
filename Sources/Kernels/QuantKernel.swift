import CKernels
import GGUF
#if canImport(Glibc)
import Glibc
#endif

/// One tensor type's kernels at one instruction-set level: how its blocks are
/// laid out, how to turn them back into floats, which format activations are
/// rounded to before a product, and the row dot product in that pairing.
///
/// The functions take raw pointers and trust their counts: `count` must be a
/// multiple of `blockSize` and the buffers must hold that many values. The
/// checked entry point for outside shapes is `MatmulContext.matmul`.
public struct QuantKernel: @unchecked Sendable {
    public let type: GGMLType
    public let isa: KernelISA
    public let blockSize: Int
    public let bytesPerBlock: Int
    /// The format activations are quantized to before `dot` (ggml's vec_dot_type).
    public let activationType: GGMLType
    public let activationBlockSize: Int
    public let activationBytesPerBlock: Int

    // C function pointers copied out of the static table, so a call is one
    // indirect jump with no lookup.
    private let dequantizeFunction: moe_dequant_fn
    private let quantizeFunction: moe_quantize_fn
    private let dotFunction: moe_dot_fn?
    private let fourRowDotFunction: moe_dot4_fn?
    private let fourWeightRowDotFunction: moe_dotr4_fn?
    private let rowsDotFunction: moe_dot_rows_fn?
    private let scaledFourRowFunction: moe_gemm4_fn?
    private let fourRowScalesFunction: moe_scales4_fn?
    private let scaledFourRowRunFunction: moe_gemm4_rows_fn?
    /// Floats `activationScales4` writes per block (0 without `gemm4`).
    public let scalesPerBlock: Int
    // The eight-row interleaved layout (QuantKernel+Interleaved.swift).
    let interleaveFunction: moe_repack_fn?
    let interleavedProductFunction: moe_gemm_x8_fn?
    let interleavedRowFunction: moe_dequant_row_x8_fn?
    /// Prompts in ggml's layout through eight-row panels (Q5_K/Q6_K at AVX2), or nil.
    let eightRowPanelFunction: moe_gemm_rows8_fn?

    init?(_ kernel: UnsafePointer<moe_kernel>, isa: KernelISA) {
        let k = kernel.pointee
        guard let type = GGMLType(rawValue: k.type), let activationType = GGMLType(rawValue: k.act_type),
              let dequantize = k.dequant, let quantize = k.quantize_act else { return nil }
        self.type = type
        self.isa = isa
        self.blockSize = Int(k.block_size)
        self.bytesPerBlock = Int(k.block_bytes)
        self.activationType = activationType
        self.activationBlockSize = Int(k.act_block_size)
        self.activationBytesPerBlock = Int(k.act_block_bytes)
        self.dequantizeFunction = dequantize
        self.quantizeFunction = quantize
        self.dotFunction = k.dot
        self.fourRowDotFunction = k.dot4
        self.fourWeightRowDotFunction = k.dotr4
        self.rowsDotFunction = QuantKernel.streamsDecodeRows ? k.dot_rows : nil
        self.scaledFourRowFunction = k.scales4 == nil ? nil : k.gemm4
        self.fourRowScalesFunction = k.gemm4 == nil ? nil : k.scales4  // scales only where a kernel reads them
        self.scaledFourRowRunFunction = k.gemm4 == nil || k.scales4 == nil ? nil : k.gemm4_rows
        self.scalesPerBlock = k.gemm4 == nil || k.scales4 == nil ? 0 : Int(k.scales_per_block)
        self.interleaveFunction = k.gemm_x8 == nil ? nil : k.repack_x8  // both or neither
        self.interleavedProductFunction = k.repack_x8 == nil ? nil : k.gemm_x8
        self.interleavedRowFunction = k.repack_x8 == nil || k.gemm_x8 == nil ? nil : k.dequant_row_x8
        self.eightRowPanelFunction = k.gemm_rows8
    }

    /// Whether weights of this type can be multiplied (some types, such as
    /// q8_K, are only ever activations and can only be dequantized).
    public var canMultiply: Bool { dotFunction != nil }

    /// Bytes of one weight row of `count` values, or nil if `count` is not a
    /// whole number of blocks.
    public func rowBytes(count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        return count / blockSize * bytesPerBlock
    }

    /// Bytes of one activation row of `count` values in `activationType`.
    public func activationRowBytes(count: Int) -> Int? {
        guard count >= 0, count % activationBlockSize == 0 else { return nil }
        return count / activationBlockSize * activationBytesPerBlock
    }

    @inline(__always)
    public func dequantize(_ blocks: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>, count: Int) {
        dequantizeFunction(blocks, output, Int64(count))
    }

    @inline(__always)
    public func quantizeActivations(_ input: UnsafePointer<Float>, into blocks: UnsafeMutableRawPointer, count: Int) {
        quantizeFunction(input, blocks, Int64(count))
    }

    /// Dot product of a weight row with an activation row already in
    /// `activationType`; 0 for a type that `canMultiply` is false for.
    @inline(__always)
    public func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        dotFunction?(weights, activations, Int64(count)) ?? 0
    }

    /// Dots of one weight row with four activation rows `activationStride`
    /// bytes apart: `results[j] = dot(weights, activations + j·stride)`. One
    /// pass over the weights where the level has a four-row kernel (prompt
    /// processing), four single-row dots otherwise.
    @inline(__always)
    public func dot4(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, activationStride: Int,
                     into results: UnsafeMutablePointer<Float>, count: Int) {
        if let fourRowDotFunction {
            fourRowDotFunction(weights, activations, activationStride, results, Int64(count))
            return
        }
        for j in 0..<4 { results[j] = dot(weights, activations + j * activationStride, count: count) }
    }
}

extension QuantKernel {
    /// Dots of four weight rows `weightStride` bytes apart with one
    /// activation row: `results[j] = dot(weights + j·stride, activations)`.
    /// Decoding's matrix-vector products go four rows at a time, so each
    /// activation block is loaded once for four rows.
    @inline(__always)
    public func dot4(weights: UnsafeRawPointer, weightStride: Int, _ activations: UnsafeRawPointer,
                     into results: UnsafeMutablePointer<Float>, count: Int) {
        if let fourWeightRowDotFunction {
            fourWeightRowDotFunction(weights, weightStride, activations, results, Int64(count))
            return
        }
        for j in 0..<4 { results[j] = dot(weights + j * weightStride, activations, count: count) }
    }
}

extension QuantKernel {
    /// `MOED_DECODE_ROWS=0` makes decoding take four weight rows side by side
    /// (`dotr4`) instead of streaming rows (`dot_rows`), for comparisons;
    /// read once per process.
    static let streamsDecodeRows: Bool = {
        guard let value = getenv("MOED_DECODE_ROWS") else { return true }
        return String(cString: value) != "0"
    }()

    /// Decode over `rows` weight rows `weightStride` bytes apart against one
    /// activation row, `results[r] = dot(weights + r·stride, activations)`:
    /// streamed one row after the other where the level has that kernel
    /// (`dot_rows`, read faster than four rows side by side), else four rows
    /// at a time.
    @inline(__always)
    public func dotRows(weights: UnsafeRawPointer, weightStride: Int, rows: Int, _ activations: UnsafeRawPointer,
                        into results: UnsafeMutablePointer<Float>, count: Int) {
        if let rowsDotFunction {
            rowsDotFunction(weights, weightStride, Int64(rows), activations, results, Int64(count))
            return
        }
        var r = 0
        while r + 4 <= rows {
            dot4(weights: weights + r * weightStride, weightStride: weightStride, activations, into: results + r,
                 count: count)
            r += 4
        }
        for r in r..<rows { results[r] = dot(weights + r * weightStride, activations, count: count) }
    }
}

extension QuantKernel {
    /// Whether `dot4(_:_:activationStride:scales:into:count:)` has a kernel
    /// that reads pre-converted activation scales.
    public var hasScaledFourRowDot: Bool { scalesPerBlock > 0 }

    /// The float block scales of four activation rows `activationStride`
    /// bytes apart, as the scaled four-row dot reads them:
    /// `scalesPerBlock × count / activationBlockSize` floats.
    @inline(__always)
    public func activationScales4(_ activations: UnsafeRawPointer, activationStride: Int,
                                  into scales: UnsafeMutablePointer<Float>, count: Int) {
        fourRowScalesFunction?(activations, activationStride, scales, Int64(count))
    }

    /// As `dot4(_:_:activationStride:into:count:)`, with the activation rows'
    /// scales converted beforehand by `activationScales4` (prompt tiles reuse
    /// them for every weight row).
    @inline(__always)
    public func dot4(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, activationStride: Int,
                     scales: UnsafePointer<Float>, into results: UnsafeMutablePointer<Float>, count: Int) {
        if let scaledFourRowFunction {
            scaledFourRowFunction(weights, activations, activationStride, scales, results, Int64(count))
            return
        }
        dot4(weights, activations, activationStride: activationStride, into: results, count: count)
    }

    /// The scaled four-row dot over `rows` weight rows `weightStride` bytes
    /// apart: `output[j * outputStride + r]`, in one call (false, with
    /// nothing written, when the type has no scaled kernel). `streaming`:
    /// the rows come from memory once (batched decoding), so the row loop
    /// fetches rows ahead (`moe_gemm4_rows_ahead`; prompt tiles, whose rows
    /// stay in cache, leave it off).
    @inline(__always)
    public func dot4Rows(weights: UnsafeRawPointer, weightStride: Int, rows: Int,
                         _ activations: UnsafeRawPointer, activationStride: Int, scales: UnsafePointer<Float>,
                         into output: UnsafeMutablePointer<Float>, outputStride: Int, count: Int,
                         streaming: Bool = false) -> Bool {
        guard let scaledFourRowFunction else { return false }
        if let scaledFourRowRunFunction {
            scaledFourRowRunFunction(weights, weightStride, Int64(rows), activations, activationStride,
                                     scales, output, outputStride, Int64(count))
            return true
        }
        if streaming {
            moe_gemm4_rows_ahead(scaledFourRowFunction, weights, weightStride, Int64(rows), activations,
                                 activationStride, scales, output, outputStride, Int64(count))
        } else {
            moe_gemm4_rows(scaledFourRowFunction, weights, weightStride, Int64(rows), activations, activationStride,
                           scales, output, outputStride, Int64(count))
        }
        return true
    }
}

/// The kernels of every supported type at one instruction-set level.
public struct KernelTable: Sendable {
    public let isa: KernelISA
    private let kernels: [QuantKernel?]  // indexed by GGMLType.rawValue

    /// The table for `isa`, or nil when this CPU cannot run that level.
    public init?(isa: KernelISA) {
        guard isa.isSupported else { return nil }
        self.isa = isa
        let largest = Int(GGMLType.allCases.map(\.rawValue).max() ?? 0)
        var kernels = [QuantKernel?](repeating: nil, count: largest + 1)
        for type in GGMLType.allCases {
            if let raw = moe_kernel_get(type.rawValue, isa.cValue) {
                kernels[Int(type.rawValue)] = QuantKernel(raw, isa: isa)
            }
        }
        self.kernels = kernels
    }

    /// The fastest table this CPU supports.
    public static let best: KernelTable = KernelTable(isa: .best) ?? scalar

    /// The scalar references: the specification every other level is tested against.
    public static let scalar: KernelTable = {
        guard let table = KernelTable(isa: .scalar) else { fatalError("scalar kernels are always supported") }
        return table
    }()

    /// The kernels for `type`, or nil if this build has none for it.
    public subscript(type: GGMLType) -> QuantKernel? {
        kernels[Int(type.rawValue)]
    }

    /// The kernels for multiplying weights of `type`, or a typed error naming it.
    public func matrixKernel(for type: GGMLType) throws -> QuantKernel {
        guard let kernel = self[type], kernel.canMultiply else { throw KernelError.unsupportedType(type) }
        return kernel
    }
}

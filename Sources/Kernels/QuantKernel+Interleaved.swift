import CKernels

/// How a weight matrix's bytes are arranged.
public enum WeightLayout: Sendable, Equatable {
    /// ggml's: row after row of blocks, as in a GGUF file.
    case ggml
    /// Eight rows interleaved block by block (`moe_block_q4_1x8`,
    /// `moe_block_q4_Kx8`, `moe_block_q5_Kx8`, `moe_block_q6_Kx8`), made at
    /// load time by `QuantKernel.interleave`: the same bytes per row, and
    /// group k of eight rows starts where row 8k starts in ggml's layout.
    case interleaved8
}

extension QuantKernel {
    /// Rows per group of the interleaved layout.
    public static let interleavedRows = 8

    /// Whether weights of this type can be interleaved (`interleave`) and
    /// multiplied in that layout (`interleavedProduct`): Q4_1; Q4_K at the
    /// SIMD levels (`moe_block_q4_Kx8`); Q5_K and Q6_K at avx512vnni
    /// (`moe_block_q5_Kx8`, `moe_block_q6_Kx8`).
    public var canInterleave: Bool { interleaveFunction != nil && interleavedProductFunction != nil }

    /// Copies `rows` rows of `count` values from ggml's layout into the
    /// interleaved one. `rows` must be a multiple of eight; `destination`
    /// holds as many bytes as `source`. Does nothing where `canInterleave`
    /// is false.
    @inline(__always)
    public func interleave(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, rows: Int, count: Int) {
        interleaveFunction?(source, destination, Int64(rows), Int64(count))
    }

    /// `output[i * outputStride + r] = dot(weight row r, activation row i)`
    /// for `rows` (a multiple of eight) interleaved weight rows and
    /// `inputRows` activation rows `activationStride` bytes apart, already in
    /// `activationType`. Does nothing where `canInterleave` is false.
    @inline(__always)
    public func interleavedProduct(weights: UnsafeRawPointer, rows: Int, _ activations: UnsafeRawPointer,
                                   activationStride: Int, inputRows: Int,
                                   into output: UnsafeMutablePointer<Float>, outputStride: Int, count: Int) {
        interleavedProductFunction?(weights, Int64(rows), activations, activationStride, Int64(inputRows),
                                    output, outputStride, Int64(count))
    }

    /// Whether a single row can be read back out of the interleaved layout
    /// (`dequantizeInterleavedRow`): Q8_0, whose tied token embedding is
    /// looked up row by row from the same copy the output product reads.
    public var canReadInterleavedRows: Bool { canInterleave && interleavedRowFunction != nil }

    /// Row `row` of an interleaved matrix of `count` columns as floats,
    /// exactly as `dequantize` gives the same row in ggml's layout. Does
    /// nothing where `canReadInterleavedRows` is false.
    @inline(__always)
    public func dequantizeInterleavedRow(_ weights: UnsafeRawPointer, row: Int, into output: UnsafeMutablePointer<Float>,
                                         count: Int) {
        interleavedRowFunction?(weights, Int64(row), output, Int64(count))
    }
}

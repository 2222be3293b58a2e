import CKernels

/// Prompt processing for the types with a sixteen-row panel kernel (Q8_0,
/// Q5_0 and Q4_0 at `avx512vnni`, gemm_q8_0.h): each thread takes runs of
/// sixteen weight rows, unpacks each run's blocks once into a panel, and
/// passes every activation row over it (eight `vpdpbusd` per block, 64
/// products each). The four-row path unpacked a weight block once per four
/// activation rows and ran at 0.4–0.6× this speed (bench/gemm_q8_0_bench.c).
extension MatmulContext {
    /// Weight rows per panel (one 512-bit register of int32 sums).
    static let panelRows = 16

    /// The panel kernel for `kernel`'s type and level, or nil (then the
    /// four-row tiles run). Small batches keep their own path: with at most
    /// `smallBatchRows` rows, unpacking a panel costs more than it saves.
    func panelKernel(_ kernel: QuantKernel, inputRows: Int) -> moe_gemm16_fn? {
        guard inputRows > MatmulContext.smallBatchRows, kernel.activationType == .q8_0 else { return nil }
        return moe_gemm16_get(kernel.type.rawValue, kernel.isa.cValue)
    }

    /// The panel kernel on the interleaved layout of `kernel`'s type (Q8_0
    /// and Q5_0 at `avx512vnni`: a fill of permutes from the x8 groups), or nil.
    func interleavedPanelKernel(_ kernel: QuantKernel, inputRows: Int) -> moe_gemm16_fn? {
        guard inputRows > MatmulContext.smallBatchRows, kernel.activationType == .q8_0 else { return nil }
        return moe_gemm16_x8_get(kernel.type.rawValue, kernel.isa.cValue)
    }

    /// `output = activations · weightsᵀ` with the panel kernel `gemm`;
    /// every activation row goes through each panel in one call, so a weight
    /// block is unpacked once per product (splitting the rows measured up to
    /// 2× slower at 32 rows a call).
    func panelProduct(_ gemm: moe_gemm16_fn, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                      _ output: UnsafeMutablePointer<Float>, _ shape: Shape) {
        let prep = panelPrep(activations, shape)
        let panels = (shape.rows + MatmulContext.panelRows - 1) / MatmulContext.panelRows
        pool.parallelFor(panels) { range in
            let first = range.lowerBound * MatmulContext.panelRows
            let end = min(range.upperBound * MatmulContext.panelRows, shape.rows)
            gemm(weights + first * shape.rowBytes, shape.rowBytes, Int64(end - first), activations,
                 shape.activationRowBytes, prep, Int64(shape.inputRows), output + first, shape.rows,
                 Int64(shape.columns))
        }
    }

    /// Each q8_0 activation block's scale and −Σq (the kernels' offset
    /// correction), made once per set of quantized activations: the products
    /// of one input (q, k, v) share it until `quantize` writes new ones.
    private func panelPrep(_ activations: UnsafeRawPointer, _ shape: Shape) -> UnsafePointer<Float> {
        let perRow = Int(MOE_GEMM16_PREP_PER_BLOCK) * shape.columns / Int(MOE_QK)
        if let prepared = panelPrepFor, prepared == PanelPrepKey(activations, shape) {
            return UnsafePointer(panelPrepScratch.pointer)
        }
        let prep = panelPrepScratch.reserve(perRow * shape.inputRows)
        pool.parallelFor(shape.inputRows, grain: 16) { rows in
            moe_gemm16_prep_q8_0(activations + rows.lowerBound * shape.activationRowBytes, shape.activationRowBytes,
                                 Int64(rows.count), prep + rows.lowerBound * perRow, Int64(shape.columns))
        }
        panelPrepFor = PanelPrepKey(activations, shape)
        return UnsafePointer(prep)
    }
}

/// Which activations the panel preparation was made from (reset by `quantize`).
struct PanelPrepKey: Equatable {
    var activations: UnsafeRawPointer, inputRows: Int, columns: Int

    init(_ activations: UnsafeRawPointer, _ shape: MatmulContext.Shape) {
        self.activations = activations
        inputRows = shape.inputRows
        columns = shape.columns
    }
}

/// A float buffer that only grows, 64-byte aligned.
final class FloatScratch {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private var capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = capacity
        pointer = FloatScratch.allocate(capacity)
    }

    deinit { pointer.deallocate() }

    /// The buffer, grown to at least `count` floats (old contents dropped).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = max(count, capacity * 2)
            pointer = FloatScratch.allocate(capacity)
        }
        return pointer
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }
}

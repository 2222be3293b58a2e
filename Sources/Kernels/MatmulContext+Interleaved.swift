import GGUF

/// Products where some weights are in the interleaved layout (eight rows
/// per group, `WeightLayout.interleaved8`). Their kernel takes any number of
/// activation rows and a run of whole groups in one call, so decoding,
/// batched decoding and prompt tiles all go through it; weights in ggml's
/// layout in the same group of products (q/k/v, gate/up) take their usual
/// kernels.
extension MatmulContext {
    /// Activation rows per call on one prompt tile: their quantized rows
    /// (110 KB at 1536 columns, 654 KB at 8960) stay in L2 while the tile's
    /// groups pass. 64 rather than 32 halves how often the K-quant panel
    /// (kpanel_vnni.h, `CK_PANEL_ROWS` = 64) unpacks each block: 1.5B
    /// Q5_K_M / Q6_K prompts 2.7 % / 1.7 % less CPU time (docs/performance.md).
    static let interleavedChunkRows = 64

    /// Activation rows per call, and weight rows per tile, for a kernel:
    /// the K-quant panels at avx512vnni (kpanel16_vnni.h) unpack each pair
    /// of groups once per call and run sixteen rows at a time, so they take
    /// 256 rows a call (their unpacking was 9 % of a 1.5B Q5_K_M prompt's
    /// product time at 64) and tiles of whole pairs. Q8_0 at avx2
    /// (x8_panel_avx2.h) runs pairs of groups too, and widens each 64-row
    /// chunk's activations once per call: a thread's whole run of groups in
    /// one call, not one or two groups per 64 KiB tile.
    static func interleavedTiling(_ kernel: QuantKernel) -> (chunkRows: Int, group: Int) {
        switch (kernel.isa, kernel.type) {
        case (.avx512vnni, .q4_K), (.avx512vnni, .q5_K), (.avx512vnni, .q6_K), (.avx2, .q8_0):
            return (256, 2 * QuantKernel.interleavedRows)
        default:
            return (interleavedChunkRows, QuantKernel.interleavedRows)
        }
    }

    /// `products[k].output = input · products[k].weightsᵀ` for activations
    /// already quantized (all kernels read the same activation format).
    func interleavedProducts(_ products: [MatrixProduct], _ shapes: [Shape], _ kernels: [QuantKernel],
                             activations: UnsafeRawPointer) {
        guard let shape = shapes.first else { return }
        guard shape.inputRows <= MatmulContext.smallBatchRows else {
            for k in products.indices {
                if products[k].layout == .interleaved8,
                   let gemm = interleavedPanelKernel(kernels[k], inputRows: shapes[k].inputRows) {
                    // every activation row through each panel in one call, as
                    // in ggml's layout: 64-row chunks (interleavedTiles) made
                    // Q8_0 prompts 0.67× as fast, the panel filled once per chunk
                    panelProduct(gemm, products[k].weights, activations, products[k].output, shapes[k])
                } else if products[k].layout == .interleaved8,
                          MatmulContext.interleavedTiling(kernels[k]).group == 2 * QuantKernel.interleavedRows {
                    interleavedPanelRuns(products[k].weights, activations, products[k].output, shapes[k], kernels[k])
                } else if products[k].layout == .interleaved8 {
                    interleavedTiles(products[k].weights, activations, products[k].output, shapes[k], kernels[k])
                } else {
                    tiledProduct(products[k].weights, activations, products[k].output, shapes[k], kernels[k])
                }
            }
            return
        }
        // the ggml-layout products' four-row kernels read prepared scales
        var scales: UnsafePointer<Float>?
        var perGroup = 0
        // (for the rows `quantize` padded to a multiple of four, as in `smallBatch`)
        var padded = shape
        padded.inputRows = MatmulContext.paddedRows(shape.inputRows)
        if let k = products.indices.first(where: { products[$0].layout == .ggml && kernels[$0].hasScaledFourRowDot }),
           kernels[k].activationType != .f32, let prepared = fourRowScales(activations, padded, kernels[k]) {
            scales = prepared
            perGroup = shape.columns / kernels[k].activationBlockSize * kernels[k].scalesPerBlock
        }
        // an interleaved group belongs to the thread whose run holds its first quad
        splitQuads(shapes) { k, quads in
            if products[k].layout == .interleaved8 {
                MatmulContext.interleavedRows(quads, products[k].weights, activations, products[k].output,
                                              shapes[k], kernels[k])
            } else {
                MatmulContext.ggmlRows(quads, products[k].weights, activations, scales: scales, perGroup: perGroup,
                                       products[k].output, shapes[k], kernels[k])
            }
        }
    }

    /// The groups of eight rows whose first quad is in `quads`, against every input row.
    static func interleavedRows(_ quads: Range<Int>, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                                _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let rows = (quads.lowerBound + 1) / 2 * 8..<min((quads.upperBound + 1) / 2 * 8, shape.rows)
        guard !rows.isEmpty else { return }
        kernel.interleavedProduct(weights: weights + rows.lowerBound * shape.rowBytes, rows: rows.count, activations,
                                  activationStride: shape.activationRowBytes, inputRows: shape.inputRows,
                                  into: output + rows.lowerBound, outputStride: shape.rows, count: shape.columns)
    }

    /// Rows of a ggml-layout product in such a group, as the decode and
    /// small-batch paths compute them.
    static func ggmlRows(_ quads: Range<Int>, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                         scales: UnsafePointer<Float>?, perGroup: Int,
                         _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        if shape.inputRows >= 2 {
            multiplyRows(quads.lowerBound * 4..<min(quads.upperBound * 4, shape.rows), weights, activations,
                         scales: kernel.hasScaledFourRowDot ? scales : nil, perGroup: perGroup, output, shape, kernel)
            return
        }
        for i in 0..<shape.inputRows {
            matvecQuads(quads, weights, activations + i * shape.activationRowBytes, output + i * shape.rows, shape, kernel)
        }
    }

    /// Prompt processing on interleaved weights: tiles of about `tileBytes`
    /// (whole groups) against chunks of activation rows, the pairs in
    /// tile-major order so a thread's run of pairs keeps reusing one tile.
    func interleavedTiles(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                          _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let (chunk, group) = MatmulContext.interleavedTiling(kernel)
        let tileRows = max(group, MatmulContext.tileBytes / max(1, shape.rowBytes) / group * group)
        let tiles = (shape.rows + tileRows - 1) / tileRows
        let chunks = (shape.inputRows + chunk - 1) / chunk
        pool.parallelFor(tiles * chunks) { range in
            for pair in range {
                let rows = pair / chunks * tileRows..<min((pair / chunks + 1) * tileRows, shape.rows)
                let inputs = pair % chunks * chunk..<min((pair % chunks + 1) * chunk, shape.inputRows)
                kernel.interleavedProduct(weights: weights + rows.lowerBound * shape.rowBytes, rows: rows.count,
                                          activations + inputs.lowerBound * shape.activationRowBytes,
                                          activationStride: shape.activationRowBytes, inputRows: inputs.count,
                                          into: output + inputs.lowerBound * shape.rows + rows.lowerBound,
                                          outputStride: shape.rows, count: shape.columns)
            }
        }
    }

    /// Prompt processing on the K-quant x8 layouts with sixteen-row panels
    /// (avx512vnni, kpanel16_vnni.h): each thread's run of sixteen-row groups
    /// in one call against up to `panelRunRows` activation rows, so the kernel
    /// fills each pair's panels and adds up the activations' sub-block sums
    /// once per run. One call per 64 KiB tile (`interleavedTiles`) redid those
    /// sums for every tile, a tile being one or two pairs at 2048–8192 columns.
    func interleavedPanelRuns(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                              _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let group = 2 * QuantKernel.interleavedRows
        let pairs = (shape.rows + group - 1) / group
        for start in stride(from: 0, to: shape.inputRows, by: MatmulContext.panelRunRows) {
            let inputs = start..<min(start + MatmulContext.panelRunRows, shape.inputRows)
            pool.parallelFor(pairs) { range in
                let rows = range.lowerBound * group..<min(range.upperBound * group, shape.rows)
                kernel.interleavedProduct(weights: weights + rows.lowerBound * shape.rowBytes, rows: rows.count,
                                          activations + inputs.lowerBound * shape.activationRowBytes,
                                          activationStride: shape.activationRowBytes, inputRows: inputs.count,
                                          into: output + inputs.lowerBound * shape.rows + rows.lowerBound,
                                          outputStride: shape.rows, count: shape.columns)
            }
        }
    }

    /// Activation rows per panel run: a 512-token prompt in one pass (the
    /// activations of a run, 4.7 MB at 8192 columns, stream from L3 per pair
    /// either way; the sums and panels stay in L2).
    static let panelRunRows = 512
}


/// Products with a few activation rows (a handful of sequences decoded
/// together): no weight tile is worth keeping in cache when each weight row
/// is needed by at most eight activation rows, so each row is streamed once
/// and used for all of them at once, and the rows of every matrix of a group
/// (q/k/v, gate/up) are split across the threads in one pass, four rows at a
/// time, as in decoding. The prompt path's 64 KiB tiles split small
/// matrices unevenly between threads (9 tiles of gate/up on 2 threads) and
/// pay a round of thread synchronisation per matrix.
extension MatmulContext {
    /// Inputs of at most this many rows take the small-batch path.
    static let smallBatchRows = 8

    /// Weight rows a thread takes through every input row before moving
    /// on: a multiple of four, small enough (≤ 40 KB of Q8_0 at 2048
    /// columns) that the passes after the first read them from cache.
    static let rowsPerPass = 16

    /// `products[k].output = input · products[k].weightsᵀ` for activations
    /// already quantized, 2…8 input rows; false, with nothing done, for one
    /// row (that is decoding) or four and more when a kernel has no scaled
    /// four-row dot.
    func smallBatch(_ products: [MatrixProduct], _ shapes: [Shape], _ kernels: [QuantKernel],
                    activations: UnsafeRawPointer) -> Bool {
        guard let first = kernels.first, let shape = shapes.first,
              (2...MatmulContext.smallBatchRows).contains(shape.inputRows),
              kernels.allSatisfy({ ($0.hasScaledFourRowDot || shape.inputRows < 4) && $0.activationType == first.activationType })
        else { return false }
        // every kernel here reads the same activation format, so one set of
        // prepared scales serves them all; `quantize` padded the rows to a
        // multiple of four (not F32 activations, which no four-row kernel reads)
        var padded = shape
        padded.inputRows = MatmulContext.paddedRows(shape.inputRows)
        let scales = first.activationType == .f32 ? nil : fourRowScales(activations, padded, first)
        let perGroup = shape.columns / first.activationBlockSize * first.scalesPerBlock
        splitQuads(shapes) { k, quads in
            let rows = quads.lowerBound * 4..<min(quads.upperBound * 4, shapes[k].rows)
            MatmulContext.multiplyRows(rows, products[k].weights, activations, scales: scales, perGroup: perGroup,
                                       products[k].output, shapes[k], kernels[k])
        }
        return true
    }

    /// Splits the quads (four weight rows) of every product, laid end to end,
    /// across the pool's threads in one pass, so the small matrices of a
    /// group (k and v beside q) cost no round of synchronisation of their
    /// own. `body(k, quads)` gets each thread's run of quads within product k.
    func splitQuads(_ shapes: [Shape], _ body: (_ product: Int, _ quads: Range<Int>) -> Void) {
        var firstQuad = [0]
        for s in shapes { firstQuad.append(firstQuad[firstQuad.count - 1] + (s.rows + 3) / 4) }
        pool.parallelFor(firstQuad[firstQuad.count - 1], grain: 4) { range in
            var k = 0
            var quad = range.lowerBound
            while quad < range.upperBound {
                while quad >= firstQuad[k + 1] { k += 1 }
                let end = min(range.upperBound, firstQuad[k + 1])
                body(k, quad - firstQuad[k]..<end - firstQuad[k])
                quad = end
            }
        }
    }

    /// Weight rows `rows` (starting at a multiple of four) against every
    /// input row. With `scales` (prepared for the rows `quantize` padded to a
    /// multiple of four), groups of four input rows take the scaled four-row
    /// dot, the last partial group too, in passes of `rowsPerPass` weight
    /// rows whose results go through a small buffer; without, every input
    /// row takes the decode kernel, a pass of weight rows at a time, so the
    /// rows after the first read the weights from cache.
    static func multiplyRows(_ rows: Range<Int>, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                             scales: UnsafePointer<Float>?, perGroup: Int,
                             _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        // with every row in a group of four, one pass covers all
        let passRows = shape.inputRows % 4 == 0 && scales != nil ? max(1, rows.count) : rowsPerPass
        var start = rows.lowerBound
        while start < rows.upperBound {
            let pass = start..<min(start + passRows, rows.upperBound)
            var i = 0
            if let scales {
                while i + 4 <= shape.inputRows {
                    _ = kernel.dot4Rows(weights: weights + pass.lowerBound * shape.rowBytes, weightStride: shape.rowBytes,
                                        rows: pass.count, activations + i * shape.activationRowBytes,
                                        activationStride: shape.activationRowBytes, scales: scales + (i / 4) * perGroup,
                                        into: output + i * shape.rows + pass.lowerBound, outputStride: shape.rows,
                                        count: shape.columns, streaming: true)
                    i += 4
                }
                if i < shape.inputRows {
                    // the last one to three rows with the copies `quantize`
                    // appended: four rows' results here, the real ones kept
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * rowsPerPass) { results in
                        guard let results = results.baseAddress else { return }
                        _ = kernel.dot4Rows(weights: weights + pass.lowerBound * shape.rowBytes, weightStride: shape.rowBytes,
                                            rows: pass.count, activations + i * shape.activationRowBytes,
                                            activationStride: shape.activationRowBytes, scales: scales + (i / 4) * perGroup,
                                            into: results, outputStride: rowsPerPass, count: shape.columns,
                                            streaming: true)
                        for j in 0..<shape.inputRows - i {
                            (output + (i + j) * shape.rows + pass.lowerBound).update(from: results + j * rowsPerPass,
                                                                                      count: pass.count)
                        }
                    }
                    i = shape.inputRows
                }
            }
            for i in i..<shape.inputRows {
                let x = activations + i * shape.activationRowBytes
                matvecQuads(pass.lowerBound / 4..<(pass.upperBound + 3) / 4, weights, x, output + i * shape.rows,
                            shape, kernel)
            }
            start = pass.upperBound
        }
    }
}

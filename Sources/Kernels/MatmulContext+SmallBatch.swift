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

    /// `products[k].output = input · products[k].weightsᵀ` for activations
    /// already quantized; false, with nothing done, when some kernel has no
    /// scaled four-row dot or there are fewer than four input rows.
    func smallBatch(_ products: [MatrixProduct], _ shapes: [Shape], _ kernels: [QuantKernel],
                    activations: UnsafeRawPointer) -> Bool {
        guard let first = kernels.first, let shape = shapes.first, shape.inputRows <= MatmulContext.smallBatchRows,
              kernels.allSatisfy({ $0.hasScaledFourRowDot && $0.activationType == first.activationType }),
              let scales = fourRowScales(activations, shape, first)
        else { return false }
        // every kernel here reads the same activation format, so one set of
        // prepared scales serves them all
        let perGroup = shape.columns / first.activationBlockSize * first.scalesPerBlock
        var firstQuad = [0]
        for s in shapes { firstQuad.append(firstQuad[firstQuad.count - 1] + (s.rows + 3) / 4) }
        pool.parallelFor(firstQuad[firstQuad.count - 1], grain: 4) { range in
            var k = 0
            var quad = range.lowerBound
            while quad < range.upperBound {
                while quad >= firstQuad[k + 1] { k += 1 }
                let end = min(range.upperBound, firstQuad[k + 1])
                let rows = (quad - firstQuad[k]) * 4..<min((end - firstQuad[k]) * 4, shapes[k].rows)
                MatmulContext.multiplyRows(rows, products[k].weights, activations, scales: scales, perGroup: perGroup,
                                           products[k].output, shapes[k], kernels[k])
                quad = end
            }
        }
        return true
    }

    /// Weight rows `rows` (starting at a multiple of four) against every
    /// input row: groups of four input rows with the scaled four-row dot,
    /// the rest with the decode kernel.
    static func multiplyRows(_ rows: Range<Int>, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                             scales: UnsafePointer<Float>, perGroup: Int,
                             _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        var i = 0
        while i + 4 <= shape.inputRows {
            _ = kernel.dot4Rows(weights: weights + rows.lowerBound * shape.rowBytes, weightStride: shape.rowBytes,
                                rows: rows.count, activations + i * shape.activationRowBytes,
                                activationStride: shape.activationRowBytes, scales: scales + (i / 4) * perGroup,
                                into: output + i * shape.rows + rows.lowerBound, outputStride: shape.rows,
                                count: shape.columns)
            i += 4
        }
        for i in i..<shape.inputRows {
            let x = activations + i * shape.activationRowBytes
            for quad in rows.lowerBound / 4..<(rows.upperBound + 3) / 4 {
                matvecQuad(quad, weights, x, output + i * shape.rows, shape, kernel)
            }
        }
    }
}

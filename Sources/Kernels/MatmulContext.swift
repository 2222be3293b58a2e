import GGUF

/// Multiplies activation rows by quantized weight matrices, reusing one
/// scratch buffer for the quantized activations, so a call in the model's hot
/// loop allocates nothing once the buffer has grown to its working size.
///
/// Not thread-safe: one context per thread that issues products (the work
/// inside a product is spread over the pool's threads).
public final class MatmulContext {
    public let pool: ThreadPool
    public let table: KernelTable
    private var scratch: UnsafeMutableRawPointer
    private var scratchBytes: Int
    private var scaleScratch: UnsafeMutablePointer<Float>
    private var scaleScratchCount: Int
    /// The panel kernels' activation preparation (MatmulContext+Panels.swift)
    /// and which activations it was made from.
    let panelPrepScratch = FloatScratch()
    var panelPrepFor: PanelPrepKey?

    /// Weight bytes worked on together when several activation rows share
    /// them: small enough to stay in L2 while every activation row passes.
    static let tileBytes = 64 * 1024

    public init(pool: ThreadPool, table: KernelTable = .best) {
        self.pool = pool
        self.table = table
        scratchBytes = 64 * 1024
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        scaleScratchCount = 1024
        scaleScratch = UnsafeMutablePointer<Float>.allocate(capacity: scaleScratchCount)
    }

    deinit {
        scratch.deallocate()
        scaleScratch.deallocate()
    }

    /// `output[i][r] = dot(input[i], weights[r])` for `inputRows` rows of input
    /// and `rows` weight rows: Y[m × rows] = X[m × n] · Wᵀ.
    ///
    /// - Parameters:
    ///   - weights: `rows` rows of `columns` values of `type`, ggml order (a
    ///     GGUF tensor with ne0 = columns, ne1 = rows).
    ///   - input: `inputRows × columns` floats, row-major.
    ///   - output: `inputRows × rows` floats, row-major.
    ///   - layout: how the weights are arranged (`.interleaved8` only for
    ///     weights made by `QuantKernel.interleave` with this table's kernel).
    /// - Throws: `KernelError` if the type has no kernels or `columns` is not
    ///   a whole number of its blocks.
    public func matmul(
        weights: UnsafeRawPointer, type: GGMLType, rows: Int, columns: Int,
        input: UnsafePointer<Float>, inputRows: Int, output: UnsafeMutablePointer<Float>,
        layout: WeightLayout = .ggml
    ) throws {
        if layout != .ggml {
            return try matmul([MatrixProduct(weights: weights, type: type, rows: rows, output: output, layout: layout)],
                              columns: columns, input: input, inputRows: inputRows)
        }
        let kernel = try table.matrixKernel(for: type)
        guard rows >= 0, inputRows >= 0 else { throw KernelError.badShape("\(inputRows) × \(rows) output") }
        guard let rowBytes = kernel.rowBytes(count: columns),
              let activationBytes = kernel.activationRowBytes(count: columns)
        else { throw KernelError.notBlockMultiple(type, length: columns) }
        guard rows > 0, inputRows > 0 else { return }
        let activations = try quantize(input, rows: inputRows, columns: columns,
                                       rowBytes: activationBytes, kernel: kernel)
        let shape = Shape(rows: rows, columns: columns, rowBytes: rowBytes,
                          activationRowBytes: activationBytes, inputRows: inputRows)
        if inputRows == 1 {
            matvec(weights, activations, output, shape, kernel)
        } else if smallBatch([MatrixProduct(weights: weights, type: type, rows: rows, output: output)], [shape], [kernel],
                             activations: activations) {
            return
        } else {
            tiledProduct(weights, activations, output, shape, kernel)
        }
    }

    /// `matmul` on a weight buffer whose size is checked against the shape
    /// first, for callers holding tensor data of outside origin.
    public func matmul(
        weights: UnsafeRawBufferPointer, type: GGMLType, rows: Int, columns: Int,
        input: UnsafePointer<Float>, inputRows: Int, output: UnsafeMutablePointer<Float>
    ) throws {
        let kernel = try table.matrixKernel(for: type)
        guard let rowBytes = kernel.rowBytes(count: columns) else {
            throw KernelError.notBlockMultiple(type, length: columns)
        }
        let (needed, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard rows >= 0, !overflow, needed <= weights.count else {
            throw KernelError.badShape("\(rows) rows of \(columns) \(type) values need more than the \(weights.count) bytes given")
        }
        // an empty buffer has no address, but then no weight byte is read
        try matmul(weights: weights.baseAddress ?? UnsafeRawPointer(output), type: type, rows: rows, columns: columns,
                   input: input, inputRows: inputRows, output: output)
    }

    /// One weight matrix of a group multiplied by the same input.
    public struct MatrixProduct {
        public var weights: UnsafeRawPointer
        public var type: GGMLType
        public var rows: Int
        public var output: UnsafeMutablePointer<Float>
        public var layout: WeightLayout

        public init(weights: UnsafeRawPointer, type: GGMLType, rows: Int, output: UnsafeMutablePointer<Float>,
                    layout: WeightLayout = .ggml) {
            self.weights = weights
            self.type = type
            self.rows = rows
            self.output = output
            self.layout = layout
        }
    }

    struct Shape {
        var rows: Int, columns: Int, rowBytes: Int, activationRowBytes: Int, inputRows: Int
    }

    /// Decode: one activation row; each thread takes runs of weight rows,
    /// four at a time (equal rows, so equal bytes per chunk).
    private func matvec(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                        _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let quads = (shape.rows + 3) / 4
        pool.parallelFor(quads, grain: 4) { range in
            MatmulContext.matvecQuads(range, weights, activations, output, shape, kernel)
        }
    }

    /// Output rows 4·quads.lowerBound…4·quads.upperBound-1 (fewer at the
    /// end) of a matrix-vector product, as one run of rows (`dotRows`).
    @inline(__always)
    static func matvecQuads(_ quads: Range<Int>, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                            _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let first = quads.lowerBound * 4
        let end = min(quads.upperBound * 4, shape.rows)
        guard first < end else { return }
        kernel.dotRows(weights: weights + first * shape.rowBytes, weightStride: shape.rowBytes, rows: end - first,
                       activations, into: output + first, count: shape.columns)
    }

    /// Prompt processing: weight rows are taken a tile at a time, and every
    /// activation row is multiplied with the tile while it is in cache, so
    /// each weight row comes from memory once per call, not once per token.
    /// Activation rows go four at a time, so a weight block is unpacked once
    /// for four of them.
    func tiledProduct(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                      _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        if let gemm = panelKernel(kernel, inputRows: shape.inputRows) {
            panelProduct(gemm, weights, activations, output, shape)
            return
        }
        if shape.inputRows > MatmulContext.smallBatchRows, let gemm = kernel.eightRowPanelFunction,
           shape.rows % 8 == 0 {
            // eight weight rows a panel (kpanel_avx2.h), every activation row
            // through it in one call; threads take runs of whole groups
            pool.parallelFor(shape.rows / 8) { range in
                let first = range.lowerBound * 8
                gemm(weights + first * shape.rowBytes, shape.rowBytes, Int64(range.count * 8), activations,
                     shape.activationRowBytes, Int64(shape.inputRows), output + first, shape.rows,
                     Int64(shape.columns))
            }
            return
        }
        // at least four rows: the float kernels tile four weight rows in
        // registers, and a wide f32/f16 row (8960 values: 35 / 18 KB) would
        // otherwise leave one to three rows a tile, all on the one-row kernel
        let tileRows = max(4, MatmulContext.tileBytes / max(1, shape.rowBytes))
        let tiles = (shape.rows + tileRows - 1) / tileRows
        let scales = fourRowScales(activations, shape, kernel)
        let scalesPerGroup = shape.columns / max(1, kernel.activationBlockSize) * kernel.scalesPerBlock
        pool.parallelFor(tiles) { tileRange in
            for tile in tileRange {
                let rows = tile * tileRows..<min((tile + 1) * tileRows, shape.rows)
                var i = 0
                while i + 4 <= shape.inputRows {
                    if let scales {
                        multiplyFour(rows, inputRow: i, scales: scales + (i / 4) * scalesPerGroup,
                                     weights, activations, output, shape, kernel)
                    } else {
                        multiplyFour(rows, inputRow: i, weights, activations, output, shape, kernel)
                    }
                    i += 4
                }
                for i in i..<shape.inputRows {
                    let x = activations + i * shape.activationRowBytes
                    for r in rows {
                        output[i * shape.rows + r] = kernel.dot(weights + r * shape.rowBytes, x, count: shape.columns)
                    }
                }
            }
        }
    }

    /// The float block scales of each group of four activation rows, for the
    /// kernels that read them (nil when the kernel has none): converted once
    /// per product and reused for every weight row.
    func fourRowScales(_ activations: UnsafeRawPointer, _ shape: Shape,
                      _ kernel: QuantKernel) -> UnsafePointer<Float>? {
        guard kernel.hasScaledFourRowDot, shape.inputRows >= 4 else { return nil }
        let perGroup = shape.columns / kernel.activationBlockSize * kernel.scalesPerBlock
        let groups = shape.inputRows / 4
        if groups * perGroup > scaleScratchCount {
            scaleScratch.deallocate()
            scaleScratchCount = max(groups * perGroup, scaleScratchCount * 2)
            scaleScratch = UnsafeMutablePointer<Float>.allocate(capacity: scaleScratchCount)
        }
        for g in 0..<groups {
            kernel.activationScales4(activations + 4 * g * shape.activationRowBytes,
                                     activationStride: shape.activationRowBytes,
                                     into: scaleScratch + g * perGroup, count: shape.columns)
        }
        return UnsafePointer(scaleScratch)
    }

    /// Output rows `inputRow…inputRow+3` for weight rows `rows`, with the
    /// activation rows' scales converted beforehand.
    @inline(__always)
    private func multiplyFour(_ rows: Range<Int>, inputRow i: Int, scales: UnsafePointer<Float>,
                              _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer,
                              _ output: UnsafeMutablePointer<Float>, _ shape: Shape, _ kernel: QuantKernel) {
        let x = activations + i * shape.activationRowBytes
        if kernel.dot4Rows(weights: weights + rows.lowerBound * shape.rowBytes, weightStride: shape.rowBytes,
                           rows: rows.count, x, activationStride: shape.activationRowBytes, scales: scales,
                           into: output + i * shape.rows + rows.lowerBound, outputStride: shape.rows,
                           count: shape.columns) {
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4) { results in
            guard let results = results.baseAddress else { return }
            for r in rows {
                kernel.dot4(weights + r * shape.rowBytes, x, activationStride: shape.activationRowBytes,
                            scales: scales, into: results, count: shape.columns)
                for j in 0..<4 { output[(i + j) * shape.rows + r] = results[j] }
            }
        }
    }

    /// Output rows `inputRow…inputRow+3` for weight rows `rows`.
    @inline(__always)
    private func multiplyFour(_ rows: Range<Int>, inputRow i: Int, _ weights: UnsafeRawPointer,
                              _ activations: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>,
                              _ shape: Shape, _ kernel: QuantKernel) {
        let x = activations + i * shape.activationRowBytes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4) { results in
            guard let results = results.baseAddress else { return }
            for r in rows {
                kernel.dot4(weights + r * shape.rowBytes, x, activationStride: shape.activationRowBytes,
                            into: results, count: shape.columns)
                for j in 0..<4 { output[(i + j) * shape.rows + r] = results[j] }
            }
        }
    }

    /// Several products of one input, Yₖ[m × rowsₖ] = X[m × n] · Wₖᵀ (a
    /// layer's q, k and v, or its gate and up). When the weights share an
    /// activation format, X is quantized once; with one input row, the rows of
    /// every matrix are split across the threads in a single pass, so small
    /// matrices (k, v) do not each pay a round of thread synchronisation.
    public func matmul(_ products: [MatrixProduct], columns: Int, input: UnsafePointer<Float>, inputRows: Int) throws {
        let kernels = try products.map { try table.matrixKernel(for: $0.type) }
        guard let first = kernels.first else { return }
        guard kernels.allSatisfy({ $0.activationType == first.activationType }) else {
            for p in products {
                try matmul([p], columns: columns, input: input, inputRows: inputRows)
            }
            return
        }
        guard inputRows >= 0, products.allSatisfy({ $0.rows >= 0 }) else { throw KernelError.badShape("negative rows") }
        for (p, k) in zip(products, kernels) where p.layout == .interleaved8 {
            guard k.canInterleave, p.rows % QuantKernel.interleavedRows == 0 else {
                throw KernelError.badShape("\(p.rows) rows of \(p.type) cannot be in the interleaved layout")
            }
        }
        guard let activationBytes = first.activationRowBytes(count: columns) else {
            throw KernelError.notBlockMultiple(first.type, length: columns)
        }
        var shapes: [Shape] = []
        for (p, k) in zip(products, kernels) {
            guard let rowBytes = k.rowBytes(count: columns) else { throw KernelError.notBlockMultiple(k.type, length: columns) }
            shapes.append(Shape(rows: p.rows, columns: columns, rowBytes: rowBytes,
                                activationRowBytes: activationBytes, inputRows: inputRows))
        }
        guard inputRows > 0 else { return }
        let activations = try quantize(input, rows: inputRows, columns: columns, rowBytes: activationBytes, kernel: first)
        if products.contains(where: { $0.layout == .interleaved8 }) {
            interleavedProducts(products, shapes, kernels, activations: activations)
            return
        }
        guard inputRows == 1 else {
            if smallBatch(products, shapes, kernels, activations: activations) { return }
            for i in products.indices { tiledProduct(products[i].weights, activations, products[i].output, shapes[i], kernels[i]) }
            return
        }
        splitQuads(shapes) { k, quads in
            MatmulContext.matvecQuads(quads, products[k].weights, activations, products[k].output, shapes[k], kernels[k])
        }
    }

    /// Rounds the input rows to the kernel's activation format in the scratch
    /// buffer (F32 activations are used in place). A few rows (the
    /// small-batch path) are followed by copies of the last one up to a
    /// multiple of four, so two, three, five… streams can take the four-row
    /// kernels (`smallBatch`); the copies' results are dropped.
    private func quantize(_ input: UnsafePointer<Float>, rows: Int, columns: Int,
                          rowBytes: Int, kernel: QuantKernel) throws -> UnsafeRawPointer {
        if kernel.activationType == .f32 { return UnsafeRawPointer(input) }
        panelPrepFor = nil  // the scratch is about to hold other activations
        let padded = MatmulContext.paddedRows(rows)
        let (total, overflow) = padded.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw KernelError.badShape("\(rows) rows of \(columns) activations overflow") }
        reserveScratch(bytes: total)
        let scratch = self.scratch
        pool.parallelFor(rows, grain: 4) { range in
            for i in range {
                kernel.quantizeActivations(input + i * columns, into: scratch + i * rowBytes, count: columns)
            }
        }
        for i in rows..<padded {
            (scratch + i * rowBytes).copyMemory(from: scratch + (rows - 1) * rowBytes, byteCount: rowBytes)
        }
        return UnsafeRawPointer(scratch)
    }

    /// Quantized activation rows `quantize` leaves for `rows` input rows.
    static func paddedRows(_ rows: Int) -> Int {
        (2...smallBatchRows).contains(rows) ? (rows + 3) / 4 * 4 : rows
    }

    private func reserveScratch(bytes: Int) {
        guard bytes > scratchBytes else { return }
        scratch.deallocate()
        scratchBytes = max(bytes, scratchBytes * 2)
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
    }
}

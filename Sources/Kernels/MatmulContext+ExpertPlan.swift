import GGUF

/// How one `expertProducts` call lays out its work: where each input's
/// quantized rows go in the arena, and the items of the single pass.
struct ExpertPlan {
    /// One input quantized to one activation format, at `offset` in the arena.
    struct Slot {
        var input: Int
        var kernel: QuantKernel
        var offset: Int
        var rowBytes: Int
    }

    private(set) var kernels: [QuantKernel] = []
    private(set) var shapes: [MatmulContext.Shape] = []
    private(set) var slots: [Slot] = []
    /// Per product, its slot (unused for the tiled ones).
    private(set) var slotOf: [Int] = []
    /// Inputs whose products go through `matmul`, with those products, in input order.
    private(set) var tiled: [(input: Int, products: [Int])] = []
    /// Arena offset of an input's gathered float rows (tiled inputs with picked rows).
    private var floatOffset: [Int: Int] = [:]
    private(set) var arenaBytes = 0
    private(set) var items: [MatmulContext.ExpertItem] = []

    init(_ products: [MatmulContext.ExpertProduct], inputs: [MatmulContext.ExpertInput], columns: Int,
         table: KernelTable) throws {
        var tiledProducts: [Int: [Int]] = [:]
        kernels.reserveCapacity(products.count)
        shapes.reserveCapacity(products.count)
        slotOf.reserveCapacity(products.count)
        items.reserveCapacity(products.count * 8)
        for (k, ep) in products.enumerated() {
            let p = ep.product
            let kernel = try table.matrixKernel(for: p.type)
            guard inputs.indices.contains(ep.input), inputs[ep.input].count >= 0, p.rows >= 0 else {
                throw KernelError.badShape("expert product \(k): input \(ep.input) of \(inputs.count), \(p.rows) rows")
            }
            guard let rowBytes = kernel.rowBytes(count: columns),
                  let activationBytes = kernel.activationRowBytes(count: columns)
            else { throw KernelError.notBlockMultiple(p.type, length: columns) }
            if p.layout == .interleaved8, !kernel.canInterleave || p.rows % QuantKernel.interleavedRows != 0 {
                throw KernelError.badShape("\(p.rows) rows of \(p.type) cannot be in the interleaved layout")
            }
            let count = inputs[ep.input].count
            kernels.append(kernel)
            shapes.append(MatmulContext.Shape(rows: p.rows, columns: columns, rowBytes: rowBytes,
                                              activationRowBytes: activationBytes, inputRows: count))
            if p.layout == .ggml, count > MatmulContext.smallBatchRows {
                tiledProducts[ep.input, default: []].append(k)
                slotOf.append(-1)
                continue
            }
            // a linear search: a call has a few slots (one per input and activation format)
            let activation = kernel.activationType
            if let slot = slots.lastIndex(where: { $0.input == ep.input && $0.kernel.activationType == activation }) {
                slotOf.append(slot)
            } else {
                slotOf.append(slots.count)
                slots.append(Slot(input: ep.input, kernel: kernel, offset: arenaBytes, rowBytes: activationBytes))
                arenaBytes += Self.aligned(count * activationBytes)
            }
            appendItems(product: k, layout: p.layout, shape: shapes[k])
        }
        for input in tiledProducts.keys.sorted() {
            tiled.append((input, tiledProducts[input]!))
            if inputs[input].rows != nil {
                floatOffset[input] = arenaBytes
                arenaBytes += Self.aligned(inputs[input].count * columns * MemoryLayout<Float>.stride)
            }
        }
    }

    private static func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// Items of about `tileBytes` of weights: interleaved ones by chunks of
    /// input rows as well (tile-major, so a thread's run keeps one tile);
    /// ggml-layout ones (few input rows) with all of their input rows.
    private mutating func appendItems(product k: Int, layout: WeightLayout, shape: MatmulContext.Shape) {
        guard shape.rows > 0, shape.inputRows > 0 else { return }
        if layout == .interleaved8 {
            let group = QuantKernel.interleavedRows
            let tileRows = max(group, MatmulContext.tileBytes / max(1, shape.rowBytes) / group * group)
            let chunk = MatmulContext.interleavedChunkRows
            for start in stride(from: 0, to: shape.rows, by: tileRows) {
                for first in stride(from: 0, to: shape.inputRows, by: chunk) {
                    items.append(MatmulContext.ExpertItem(product: k, rows: start..<min(start + tileRows, shape.rows),
                                                          inputRows: first..<min(first + chunk, shape.inputRows)))
                }
            }
            return
        }
        let itemRows = MatmulContext.expertItemRows(shape.rowBytes)
        for start in stride(from: 0, to: shape.rows, by: itemRows) {
            items.append(MatmulContext.ExpertItem(product: k, rows: start..<min(start + itemRows, shape.rows),
                                                  inputRows: 0..<shape.inputRows))
        }
    }

    /// The float rows of a tiled input, gathered into the arena when they are picked rows.
    func floatRows(of input: Int, inputs: [MatmulContext.ExpertInput], arena: ActivationArena,
                   columns: Int) -> UnsafePointer<Float> {
        let x = inputs[input]
        guard let rows = x.rows, let offset = floatOffset[input] else { return x.base }
        let gathered = (arena.bytes + offset).bindMemory(to: Float.self, capacity: x.count * columns)
        for i in 0..<x.count {
            (gathered + i * columns).update(from: x.base + rows[i] * columns, count: columns)
        }
        return UnsafePointer(gathered)
    }
}

import GGUF

/// How one `expertProducts` call lays out its work: where each input's
/// quantized rows go in the arena, the items of the single pass and the
/// units the threads claim them in.
///
/// A plan names no weight or output pointer (the call's products give
/// those), so a later call whose products have the same types, layouts,
/// rows and inputs reuses it (`fits`, `ActivationArena.plan`): a decode
/// step's two expert passes repeat their shapes layer after layer and step
/// after step, and only the chosen experts' matrices change.
struct ExpertPlan {
    /// One input quantized to one activation format, at `offset` in the arena.
    struct Slot {
        var input: Int
        var kernel: QuantKernel
        var offset: Int
        var rowBytes: Int
    }

    /// What a product contributes to the plan (its pointers aside).
    private struct Key: Equatable {
        var type: GGMLType
        var layout: WeightLayout
        var rows: Int
        var input: Int
    }

    private let keys: [Key]
    /// Per input, its row count and whether its rows are picked (`rows` not nil).
    private let inputKeys: [(count: Int, isPicked: Bool)]
    private let columns: Int
    private(set) var kernels: [QuantKernel] = []
    private(set) var shapes: [MatmulContext.Shape] = []
    private(set) var slots: [Slot] = []
    /// First quantized row of each slot among all the slots' rows, and their total last.
    private(set) var slotFirstRow: [Int] = [0]
    /// Per product, its slot (unused for the tiled ones).
    private(set) var slotOf: [Int] = []
    /// Inputs whose products go through `matmul`, with those products, in input order.
    private(set) var tiled: [(input: Int, products: [Int])] = []
    /// Arena offset of an input's gathered float rows (tiled inputs with picked rows).
    private var floatOffset: [Int: Int] = [:]
    private(set) var arenaBytes = 0
    private(set) var items: [MatmulContext.ExpertItem] = []
    /// Boundaries of the units the pass's items are claimed in (`MatmulContext.guidedUnits`).
    private(set) var units: [Int] = [0, 0]

    init(_ products: [MatmulContext.ExpertProduct], inputs: [MatmulContext.ExpertInput], columns: Int,
         table: KernelTable, threads: Int) throws {
        keys = products.map { Key(type: $0.product.type, layout: $0.product.layout, rows: $0.product.rows, input: $0.input) }
        inputKeys = inputs.map { ($0.count, $0.rows != nil) }
        self.columns = columns
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
                slotFirstRow.append(slotFirstRow[slotFirstRow.count - 1] + count)
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
        units = MatmulContext.guidedUnits(items.count, threads: threads)
    }

    /// Whether a call with these products, inputs and width would get this
    /// very plan (the kernel table and threads are the context's, fixed).
    func fits(_ products: [MatmulContext.ExpertProduct], inputs: [MatmulContext.ExpertInput], columns: Int) -> Bool {
        guard columns == self.columns, products.count == keys.count, inputs.count == inputKeys.count else { return false }
        for (k, ep) in products.enumerated() {
            let p = ep.product, key = keys[k]
            guard p.type == key.type, p.layout == key.layout, p.rows == key.rows, ep.input == key.input else { return false }
        }
        for (i, input) in inputs.enumerated() where input.count != inputKeys[i].count
            || (input.rows != nil) != inputKeys[i].isPicked { return false }
        return true
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

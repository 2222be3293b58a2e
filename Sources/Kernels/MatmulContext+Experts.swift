/// Products of several weight matrices, each with its own activation rows:
/// the chosen experts of a mixture-of-experts layer, each applied to the
/// tokens routed to it. `matmul(_:columns:input:inputRows:)` shares one
/// input among its products; here every product names its input, and an
/// input is a set of rows picked out of a float matrix, so no caller has to
/// gather tokens per expert.
///
/// Why one entry for them all: at 64 experts top-8 a token's experts are
/// 24 small matrices (512 × 1024). One round of thread synchronisation per
/// matrix (or per expert) costs more than reading it, so the rows of every
/// product are spread over the threads in a single pass. Each input row is
/// quantized once per input, straight from its source row.
extension MatmulContext {
    /// Activation rows of one input: `count` rows of `base` (a row-major
    /// float matrix of `columns`-wide rows), `rows[i]` the i-th one picked,
    /// or rows 0..<count when `rows` is nil.
    public struct ExpertInput {
        public var base: UnsafePointer<Float>
        public var rows: UnsafePointer<Int>?
        public var count: Int

        public init(base: UnsafePointer<Float>, rows: UnsafePointer<Int>? = nil, count: Int) {
            self.base = base
            self.rows = rows
            self.count = count
        }
    }

    /// One weight matrix applied to input `input`: `product.output` receives
    /// [inputs[input].count × product.rows] floats, row-major.
    public struct ExpertProduct {
        public var product: MatrixProduct
        public var input: Int

        public init(_ product: MatrixProduct, input: Int) {
            self.product = product
            self.input = input
        }
    }

    /// Weight rows of one ggml-layout work item: about `tileBytes`, a multiple of four.
    static func expertItemRows(_ rowBytes: Int) -> Int { max(4, MatmulContext.tileBytes / max(1, rowBytes) / 4 * 4) }

    /// Computes every product. Interleaved weights and ggml-layout ones with
    /// at most `smallBatchRows` input rows run in one pass of the pool,
    /// split into items of about `tileBytes` of weights (by chunks of input
    /// rows for the interleaved kernel); ggml-layout products with more
    /// rows go through `matmul` (prompt processing's tiled kernels), one
    /// call per input they share.
    /// - Throws: `KernelError` if a type has no kernels, `columns` is not a
    ///   whole number of blocks, an input index is out of range or an
    ///   interleaved product's rows are not a multiple of eight.
    public func expertProducts(_ products: [ExpertProduct], inputs: [ExpertInput], columns: Int,
                               arena: ActivationArena) throws {
        let plan = try arena.plan(for: products, inputs: inputs, columns: columns) {
            try ExpertPlan(products, inputs: inputs, columns: columns, table: table, threads: pool.threadCount)
        }
        arena.reserve(bytes: plan.arenaBytes)
        quantize(plan, inputs: inputs, columns: columns, into: arena.bytes)
        if !plan.items.isEmpty {
            let activations = UnsafeRawPointer(arena.bytes)
            // one unit per claim (parallelFor's chunk is 1 for this few)
            pool.parallelFor(plan.units.count - 1) { range in
                plan.units.withUnsafeBufferPointer { units in
                    plan.items.withUnsafeBufferPointer { items in
                        for u in range {
                            for i in units[u]..<units[u + 1] { MatmulContext.run(items[i], plan, products, activations) }
                        }
                    }
                }
            }
        }
        for (input, members) in plan.tiled {
            let floats = plan.floatRows(of: input, inputs: inputs, arena: arena, columns: columns)
            try matmul(members.map { products[$0].product }, columns: columns, input: floats,
                       inputRows: inputs[input].count)
        }
    }

    /// Boundaries of the units a pass of `count` items is claimed in, in
    /// order: at most four per thread (so `parallelFor` hands out one per
    /// claim), largest first, shrinking to the last (`ThreadPool.guidedBounds`).
    static func guidedUnits(_ count: Int, threads: Int) -> [Int] {
        ThreadPool.guidedBounds(count, chunks: max(1, threads) * ThreadPool.chunksPerThread)
    }

    /// Every picked row of every input the pass reads, quantized to each
    /// activation format its products read, in parallel when there are many.
    private func quantize(_ plan: ExpertPlan, inputs: [ExpertInput], columns: Int, into arena: UnsafeMutableRawPointer) {
        let slots = plan.slots, firstRow = plan.slotFirstRow
        let total = firstRow[firstRow.count - 1]
        let work: (Range<Int>) -> Void = { range in
            var s = 0
            for r in range {
                while r >= firstRow[s + 1] { s += 1 }
                let slot = slots[s], input = inputs[slot.input], i = r - firstRow[s]
                let source = input.base + (input.rows?[i] ?? i) * columns
                slot.kernel.quantizeActivations(source, into: arena + slot.offset + i * slot.rowBytes, count: columns)
            }
        }
        if total <= 8 { work(0..<total) } else { pool.parallelFor(total, grain: 4, work) }
    }

    /// One item of the pass: weight rows `rows` of product `product` against
    /// its input rows `inputRows`.
    struct ExpertItem {
        var product: Int
        var rows: Range<Int>
        var inputRows: Range<Int>
    }

    private static func run(_ item: ExpertItem, _ plan: ExpertPlan, _ products: [ExpertProduct],
                            _ activations: UnsafeRawPointer) {
        let p = products[item.product].product
        let shape = plan.shapes[item.product], kernel = plan.kernels[item.product]
        let x = activations + plan.slots[plan.slotOf[item.product]].offset
            + item.inputRows.lowerBound * shape.activationRowBytes
        let y = p.output + item.inputRows.lowerBound * shape.rows + item.rows.lowerBound
        if p.layout == .interleaved8 {
            kernel.interleavedProduct(weights: p.weights + item.rows.lowerBound * shape.rowBytes, rows: item.rows.count,
                                      x, activationStride: shape.activationRowBytes, inputRows: item.inputRows.count,
                                      into: y, outputStride: shape.rows, count: shape.columns)
            return
        }
        // ggml layout, a few input rows: each streams the item's weight rows
        // (from cache after the first), as decoding does
        for i in 0..<item.inputRows.count {
            kernel.dotRows(weights: p.weights + item.rows.lowerBound * shape.rowBytes, weightStride: shape.rowBytes,
                           rows: item.rows.count, x + i * shape.activationRowBytes, into: y + i * shape.rows,
                           count: shape.columns)
        }
    }
}

/// Caller-owned scratch for `expertProducts`: the quantized (and, for the
/// tiled path, gathered float) activation rows of one call, and the plans
/// of the last few calls. Grows to the largest call seen; not thread-safe.
public final class ActivationArena {
    public private(set) var bytes: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    /// The plans of the last calls, latest first: a decoding MoE model
    /// alternates two (its layers' gate/up pass and down pass), and a
    /// prompt's batch, whose shapes differ, pushes them out only until the
    /// next decode step makes them again.
    private var plans: [ExpertPlan] = []
    private static let keptPlans = 4

    public init() {
        capacity = 4096
        bytes = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { bytes.deallocate() }

    func reserve(bytes needed: Int) {
        guard needed > capacity else { return }
        bytes.deallocate()
        capacity = max(needed, capacity * 2)
        bytes = .allocate(byteCount: capacity, alignment: 64)
    }

    /// A kept plan that fits the call, moved to the front, or a new one from `make`.
    func plan(for products: [MatmulContext.ExpertProduct], inputs: [MatmulContext.ExpertInput], columns: Int,
              make: () throws -> ExpertPlan) rethrows -> ExpertPlan {
        if let i = plans.firstIndex(where: { $0.fits(products, inputs: inputs, columns: columns) }) {
            let plan = plans[i]
            if i > 0 { plans.swapAt(0, i) }
            return plan
        }
        let plan = try make()
        if plans.count == Self.keptPlans { plans.removeLast() }
        plans.insert(plan, at: 0)
        return plan
    }
}

import GGUF
import Testing
@testable import Kernels

/// `MatmulContext.expertProducts` (a MoE layer's chosen experts, each on the
/// rows routed to it, in one pass) gives what one product at a time gives,
/// computed row by row on the gathered rows through the decode path.
@Suite("Expert products: many matrices, each on its own picked rows")
struct ExpertProductsTests {
    static let rows = 24      // three groups of eight: interleavable
    static let columns = 256
    static let sourceRows = 48

    /// Rows picked per expert: one token (decode), three, forty (the tiled
    /// prompt path for ggml's layout, two chunks for the interleaved one), none.
    static let picks: [[Int]] = [[5], [0, 7, 9], Array((0..<sourceRows).filter { $0 % 6 != 1 }), []]

    struct Case: CustomTestStringConvertible, Sendable {
        var type: GGMLType
        var layout: WeightLayout
        var testDescription: String { "\(type) \(layout == .ggml ? "ggml" : "interleaved")" }
    }

    static let cases: [Case] = [GGMLType.q8_0, .q4_K, .q6_K, .q4_1].flatMap { t in
        [Case(type: t, layout: .ggml)] + (KernelTable.best[t]?.canInterleave == true ? [Case(type: t, layout: .interleaved8)] : [])
    }

    /// x[row] · Wᵀ one row at a time (the decode path), for each picked row.
    static func reference(_ weights: [UInt8], type: GGMLType, source: [Float], picked: [Int]) throws -> [Float] {
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        var out = [Float](repeating: .nan, count: picked.count * rows)
        try weights.withUnsafeBytes { w in
            try out.withUnsafeMutableBufferPointer { o in
                for (i, r) in picked.enumerated() {
                    try context.matmul(weights: w.baseAddress!, type: type, rows: rows, columns: columns,
                                       input: Array(source[r * columns..<(r + 1) * columns]), inputRows: 1,
                                       output: o.baseAddress! + i * rows)
                }
            }
        }
        return out
    }

    static func interleaved(_ weights: [UInt8], type: GGMLType) throws -> [UInt8] {
        let kernel = try #require(KernelTable.best[type])
        var out = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { kernel.interleave(src.baseAddress!, into: $0.baseAddress!, rows: rows, count: columns) }
        }
        return out
    }

    @Test("gate/up-like pairs sharing each expert's picked rows, 1, 3, 40 and 0 rows, on 1 and 2 threads",
          arguments: cases)
    func pairsPerExpert(c: Case) throws {
        var rng = SeededGenerator(seed: 7100 + UInt64(c.type.rawValue))
        let source = randomFloats(Self.sourceRows * Self.columns, &rng, scale: 2)
        let weights = (0..<2 * Self.picks.count).map { _ in randomWeights(c.type, count: Self.rows * Self.columns, &rng) }
        let stored = try weights.map { c.layout == .ggml ? $0 : try Self.interleaved($0, type: c.type) }
        let expected = try zip(weights.indices, weights).map { k, w in
            try Self.reference(w, type: c.type, source: source, picked: Self.picks[k / 2])
        }
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            let arena = ActivationArena()
            var outputs = Self.picks.flatMap { p in [[Float]](repeating: [Float](repeating: .nan, count: p.count * Self.rows), count: 2) }
            try Self.withPointers(stored, &outputs) { w, o in
                try source.withUnsafeBufferPointer { x in
                    try Self.withRowLists(Self.picks) { lists in
                        let inputs = zip(lists, Self.picks).map { MatmulContext.ExpertInput(base: x.baseAddress!, rows: $0, count: $1.count) }
                        let products = (0..<w.count).map { k in
                            MatmulContext.ExpertProduct(MatmulContext.MatrixProduct(weights: w[k], type: c.type, rows: Self.rows,
                                                                                    output: o[k], layout: c.layout), input: k / 2)
                        }
                        try context.expertProducts(products, inputs: inputs, columns: Self.columns, arena: arena)
                    }
                }
            }
            for k in outputs.indices where !expected[k].isEmpty {
                #expect(InterleavedMatmulTests.difference(outputs[k], expected[k]) <= 1e-4,
                        "product \(k) (\(Self.picks[k / 2].count) rows), threads \(threads)")
            }
        }
    }

    @Test("down-like products, each on consecutive rows of its own input (a decoded token's experts)")
    func ownInputs() throws {
        var rng = SeededGenerator(seed: 7200)
        let type = GGMLType.q4_K
        let inputsFloats = (0..<3).map { _ in randomFloats(Self.columns, &rng, scale: 2) }
        let weights = (0..<3).map { _ in randomWeights(type, count: Self.rows * Self.columns, &rng) }
        let expected = try zip(weights, inputsFloats).map { try Self.reference($0, type: type, source: $1, picked: [0]) }
        let context = MatmulContext(pool: ThreadPool(threadCount: 2))
        var outputs = [[Float]](repeating: [Float](repeating: .nan, count: Self.rows), count: 3)
        try Self.withPointers(weights, &outputs) { w, o in
            let bases = inputsFloats.map { f in UnsafeMutablePointer<Float>.allocate(capacity: f.count) }
            defer { bases.forEach { $0.deallocate() } }
            for (b, f) in zip(bases, inputsFloats) { b.update(from: f, count: f.count) }
            let inputs = bases.map { MatmulContext.ExpertInput(base: $0, count: 1) }
            let products = (0..<3).map { MatmulContext.ExpertProduct(.init(weights: w[$0], type: type, rows: Self.rows, output: o[$0]), input: $0) }
            try context.expertProducts(products, inputs: inputs, columns: Self.columns, arena: ActivationArena())
        }
        for k in 0..<3 { #expect(InterleavedMatmulTests.difference(outputs[k], expected[k]) <= 1e-4, "product \(k)") }
    }

    @Test("one arena's kept plans serve later calls with other weights, outputs and rows, and calls of other shapes",
          arguments: cases)
    func keptPlans(c: Case) throws {
        var rng = SeededGenerator(seed: 7300 + UInt64(c.type.rawValue))
        let source = randomFloats(Self.sourceRows * Self.columns, &rng, scale: 2)
        let context = MatmulContext(pool: ThreadPool(threadCount: 2))
        let arena = ActivationArena()
        // decode-like (one picked row), the same shape again with other
        // weights and rows, a batch, a picked-rows input turned plain, the
        // first shape once more (its plan kept through the others), and
        // forty plain rows then forty picked ones (ggml's tiled path
        // gathers only picked rows)
        let calls: [(picks: [Int], plain: Bool)] = [([5], false), ([11], false), ([0, 7, 9], false),
                                                    ([0], true), ([5], false), (Array(0..<40), true),
                                                    (Self.picks[2], false)]
        for (n, call) in calls.enumerated() {
            let weights = (0..<2).map { _ in randomWeights(c.type, count: Self.rows * Self.columns, &rng) }
            let stored = try weights.map { c.layout == .ggml ? $0 : try Self.interleaved($0, type: c.type) }
            let expected = try weights.map { try Self.reference($0, type: c.type, source: source, picked: call.picks) }
            var outputs = [[Float]](repeating: [Float](repeating: .nan, count: call.picks.count * Self.rows), count: 2)
            try Self.withPointers(stored, &outputs) { w, o in
                try source.withUnsafeBufferPointer { x in
                    try Self.withRowLists([call.picks]) { lists in
                        let input = MatmulContext.ExpertInput(base: x.baseAddress!, rows: call.plain ? nil : lists[0],
                                                              count: call.picks.count)
                        let products = (0..<2).map { k in
                            MatmulContext.ExpertProduct(MatmulContext.MatrixProduct(weights: w[k], type: c.type, rows: Self.rows,
                                                                                    output: o[k], layout: c.layout), input: 0)
                        }
                        try context.expertProducts(products, inputs: [input], columns: Self.columns, arena: arena)
                    }
                }
            }
            for k in 0..<2 {
                #expect(InterleavedMatmulTests.difference(outputs[k], expected[k]) <= 1e-4, "call \(n), product \(k)")
            }
        }
    }

    @Test("an input index out of range, or rows that cannot be interleaved, are refused by name")
    func badShapes() {
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        let weights = [UInt8](repeating: 0, count: 12 * 34 * 8)
        var out = [Float](repeating: 0, count: 16)
        let x = [Float](repeating: 1, count: Self.columns)
        weights.withUnsafeBytes { w in
            out.withUnsafeMutableBufferPointer { o in
                x.withUnsafeBufferPointer { xb in
                    let input = MatmulContext.ExpertInput(base: xb.baseAddress!, count: 1)
                    let p = MatmulContext.MatrixProduct(weights: w.baseAddress!, type: .q8_0, rows: 12, output: o.baseAddress!)
                    #expect(throws: KernelError.self) {
                        try context.expertProducts([.init(p, input: 1)], inputs: [input], columns: Self.columns, arena: ActivationArena())
                    }
                    var packed = p
                    packed.layout = .interleaved8
                    #expect(throws: KernelError.self) {
                        try context.expertProducts([.init(packed, input: 0)], inputs: [input], columns: Self.columns, arena: ActivationArena())
                    }
                }
            }
        }
    }

    @Test("a pass's units cover every item once, in order, at most four per thread, largest first",
          arguments: [1, 2, 3])
    func guidedUnits(threads: Int) throws {
        for count in [1, 2, 5, 8, 9, 13, 40, 56, 80, 144, 1000] {
            let bounds = MatmulContext.guidedUnits(count, threads: threads)
            try #require(bounds.count >= 2, "\(count) items")
            #expect(bounds.first == 0 && bounds.last == count, "\(count) items: \(bounds)")
            let sizes = zip(bounds.dropFirst(), bounds).map { $0 - $1 }
            #expect(sizes.allSatisfy { $0 >= 1 }, "\(count) items: \(sizes)")
            #expect(sizes.count <= 4 * threads, "\(count) items: \(sizes)")
            // shrinking (within one item of rounding), so the last claims are the small ones
            #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $1 <= $0 + 1 }, "\(count) items: \(sizes)")
            if count >= 36 * threads {
                #expect(sizes.last! * 8 * threads < count, "\(count) items: last unit \(sizes.last!)")
            }
        }
    }

    static func withPointers(_ weights: [[UInt8]], _ outputs: inout [[Float]],
                             _ body: ([UnsafeRawPointer], [UnsafeMutablePointer<Float>]) throws -> Void) throws {
        let w = weights.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return p
        }
        let o = outputs.map { UnsafeMutablePointer<Float>.allocate(capacity: max(1, $0.count)) }
        defer { w.forEach { $0.deallocate() }; o.forEach { $0.deallocate() } }
        for (p, v) in zip(o, outputs) { p.update(from: v, count: v.count) }
        try body(w.map { UnsafeRawPointer($0) }, o)
        for k in outputs.indices { outputs[k] = Array(UnsafeBufferPointer(start: o[k], count: outputs[k].count)) }
    }

    static func withRowLists(_ lists: [[Int]], _ body: ([UnsafePointer<Int>]) throws -> Void) rethrows {
        let pointers = lists.map { l -> UnsafeMutablePointer<Int> in
            let p = UnsafeMutablePointer<Int>.allocate(capacity: max(1, l.count))
            p.update(from: l, count: l.count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        try body(pointers.map { UnsafePointer($0) })
    }
}

import GGUF
import Testing
@testable import Kernels

/// matmul against a naive oracle: dequantize each weight row and the
/// quantized activations, multiply in double.
@Suite("Matrix products")
struct MatmulTests {
    static let rows = 37      // not a multiple of any chunk or tile size
    static let columns = 512  // two K-quant super-blocks

    private func naive(_ kernel: QuantKernel, weights: [UInt8], input: [Float], inputRows m: Int) -> (value: [Double], magnitude: [Double]) {
        let n = Self.columns
        let w = kernel.dequantized(weights, count: Self.rows * n)
        var value = [Double](), magnitude = [Double]()
        for i in 0..<m {
            let row = Array(input[i * n..<(i + 1) * n])
            let x = dequantizedActivations(kernel.quantizedActivations(row), type: kernel.activationType, count: n)
            for r in 0..<Self.rows {
                var sum = 0.0, abssum = 0.0
                for k in 0..<n {
                    let p = Double(w[r * n + k]) * Double(x[k])
                    sum += p
                    abssum += abs(p)
                }
                value.append(sum)
                magnitude.append(abssum)
            }
        }
        return (value, magnitude)
    }

    @Test("Y = X·Wᵀ for m = 1, 2, 3, 4, 6, 7, 17 on 1 and 2 threads", arguments: matrixTypes, [1, 2, 3, 4, 6, 7, 17])
    func product(type: GGMLType, m: Int) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) * 31 + UInt64(m))
        let weights = randomWeights(type, count: Self.rows * Self.columns, &rng)
        let input = randomFloats(m * Self.columns, &rng, scale: 2)
        let kernel = try #require(KernelTable.best[type])
        let expected = naive(kernel, weights: weights, input: input, inputRows: m)
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            var output = [Float](repeating: .nan, count: m * Self.rows)
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: type, rows: Self.rows, columns: Self.columns,
                                   input: input, inputRows: m, output: &output)
            }
            for i in 0..<output.count {
                let error = abs(Double(output[i]) - expected.value[i])
                #expect(error <= Tolerance.referenceVersusDequantized * expected.magnitude[i],
                        "\(type) m=\(m) threads=\(threads) index \(i)")
            }
        }
    }

    @Test("a group of products with 2 to 7 input rows (the small-batch path) matches the oracle",
          arguments: matrixTypes, [2, 3, 4, 7])
    func groupedSmallBatch(type: GGMLType, m: Int) throws {
        var rng = SeededGenerator(seed: UInt64(type.rawValue) * 77 + UInt64(m))
        let first = randomWeights(type, count: Self.rows * Self.columns, &rng)
        let second = randomWeights(type, count: Self.rows * Self.columns, &rng)
        let input = randomFloats(m * Self.columns, &rng, scale: 2)
        let kernel = try #require(KernelTable.best[type])
        let expected = [naive(kernel, weights: first, input: input, inputRows: m),
                        naive(kernel, weights: second, input: input, inputRows: m)]
        for threads in [1, 2] {
            let context = MatmulContext(pool: ThreadPool(threadCount: threads))
            let outputs = (0..<2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: m * Self.rows) }
            defer { outputs.forEach { $0.deallocate() } }
            for o in outputs { o.initialize(repeating: .nan, count: m * Self.rows) }
            try first.withUnsafeBytes { a in
                try second.withUnsafeBytes { b in
                    try context.matmul([.init(weights: a.baseAddress!, type: type, rows: Self.rows, output: outputs[0]),
                                        .init(weights: b.baseAddress!, type: type, rows: Self.rows, output: outputs[1])],
                                       columns: Self.columns, input: input, inputRows: m)
                }
            }
            for (k, output) in outputs.enumerated() {
                for i in 0..<m * Self.rows {
                    let error = abs(Double(output[i]) - expected[k].value[i])
                    #expect(error <= Tolerance.referenceVersusDequantized * expected[k].magnitude[i],
                            "\(type) product \(k) threads=\(threads) index \(i)")
                }
            }
        }
    }

    @Test("the context's scratch buffer is reused and grows for larger inputs")
    func scratchGrows() throws {
        let context = MatmulContext(pool: ThreadPool(threadCount: 2))
        var rng = SeededGenerator(seed: 9)
        let weights = randomWeights(.q8_0, count: 4 * 4096, &rng)
        for m in [1, 40, 2] {  // 40 rows of 4096 Q8_0 activations exceed the first 64 KiB
            let input = randomFloats(m * 4096, &rng)
            var output = [Float](repeating: .nan, count: m * 4)
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: .q8_0, rows: 4, columns: 4096,
                                   input: input, inputRows: m, output: &output)
            }
            #expect(output.allSatisfy { $0.isFinite })
        }
    }

    @Test("a row length that is not a whole number of blocks is refused, naming the type")
    func badRowLength() {
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        let weights = [UInt8](repeating: 0, count: 1024)
        let input = [Float](repeating: 1, count: 48)
        var output = [Float](repeating: 0, count: 1)
        #expect(throws: KernelError.notBlockMultiple(.q4_0, length: 48)) {
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w.baseAddress!, type: .q4_0, rows: 1, columns: 48,
                                   input: input, inputRows: 1, output: &output)
            }
        }
    }

    @Test("a weight buffer smaller than rows × row bytes is refused")
    func shortWeights() {
        let context = MatmulContext(pool: ThreadPool(threadCount: 1))
        let weights = [UInt8](repeating: 0, count: 3 * 20 - 1)  // three q4_1 rows of 32 need 60 bytes
        let input = [Float](repeating: 1, count: 32)
        var output = [Float](repeating: 0, count: 3)
        #expect(throws: KernelError.self) {
            try weights.withUnsafeBytes { w in
                try context.matmul(weights: w, type: .q4_1, rows: 3, columns: 32, input: input, inputRows: 1, output: &output)
            }
        }
        let enough = [UInt8](repeating: 0, count: 60)
        #expect(throws: Never.self) {
            try enough.withUnsafeBytes { w in
                try context.matmul(weights: w, type: .q4_1, rows: 3, columns: 32, input: input, inputRows: 1, output: &output)
            }
        }
    }

    @Test("types without matrix kernels are refused")
    func unsupported() {
        #expect(throws: KernelError.unsupportedType(.i32)) { try KernelTable.best.matrixKernel(for: .i32) }
        #expect(throws: KernelError.unsupportedType(.q8_K)) { try KernelTable.best.matrixKernel(for: .q8_K) }
        #expect(String(describing: KernelError.unsupportedType(.i32)).contains("i32"))
    }
}

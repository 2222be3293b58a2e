import GGUF
import Kernels

/// A weight matrix [outputs × inputs] held in a memory-mapped GGUF tensor
/// (ggml shape [inputs, outputs]), applied to rows of activations: y = W·x.
struct Linear {
    let name: String
    let type: GGMLType
    let inputs: Int
    let outputs: Int
    /// Where the weights are: the file's mapping, or a private copy in the
    /// interleaved layout made at load, after load (`LayoutPreparation`)
    /// or, for a routed expert, on its first pick (`ExpertBank`).
    let weights: WeightSlot
    var data: UnsafeRawPointer { weights.data }
    /// `.interleaved8` when `data` is a private copy (`interleavedCopy`).
    var layout: WeightLayout { weights.layout }

    /// Checks at load time that this engine can multiply the tensor, so
    /// products in the forward pass cannot fail on the file's account.
    init(name: String, tensor: GGUFTensorInfo, data: UnsafeRawPointer, rows: Int? = nil) throws {
        let kernel: QuantKernel
        do { kernel = try KernelTable.best.matrixKernel(for: tensor.type) } catch {
            throw InferenceError.unsupportedTensorType(name, tensor.type.description)
        }
        guard kernel.rowBytes(count: tensor.rowLength) != nil else {
            throw InferenceError.badTensorShape(name, expected: [tensor.rowLength], found: tensor.shape)
        }
        self.name = name
        self.type = tensor.type
        self.inputs = tensor.rowLength
        self.outputs = rows ?? tensor.rowCount
        self.weights = WeightSlot(mapped: data)
    }

    /// Whether `interleavedCopy` can make a copy of this matrix.
    var canInterleave: Bool { layout == .ggml && hasInterleavedLayout }

    /// Whether the matrix's type and shape have an interleaved layout (its
    /// kernel has one, rows a multiple of eight), whatever is installed.
    var hasInterleavedLayout: Bool {
        guard let kernel = KernelTable.best[type], kernel.canInterleave,
              outputs > 0, outputs % QuantKernel.interleavedRows == 0 else { return false }
        return kernel.rowBytes(count: inputs) != nil
    }

    /// This matrix's bytes copied into the interleaved layout (eight rows per
    /// group, `WeightLayout.interleaved8`), or nil when it has none: its
    /// kernel has no such layout, or its rows are not a multiple of eight,
    /// or a copy is installed already. Runs of groups are copied on `pool`'s threads, or on
    /// the calling thread without one (a repack after load, `LayoutPreparation`).
    func interleavedCopy(pool: ThreadPool?, ledger: CopyLedger? = nil, arena: WeightArena? = nil) -> InterleavedWeights? {
        canInterleave ? mappedCopy(pool: pool, ledger: ledger, arena: arena) : nil
    }

    /// The file's bytes of this matrix (`WeightSlot.mapped`) copied into the
    /// interleaved layout, or nil when it has none. Reads nothing that an
    /// install changes, so it may run while the model evaluates (a routed
    /// expert's copy made on the layout thread, `ExpertBank.copies`).
    func mappedCopy(pool: ThreadPool?, ledger: CopyLedger? = nil, arena: WeightArena? = nil) -> InterleavedWeights? {
        let group = QuantKernel.interleavedRows
        guard hasInterleavedLayout, let kernel = KernelTable.best[type], let rowBytes = kernel.rowBytes(count: inputs),
              let storage = InterleavedWeights(byteCount: outputs * rowBytes, ledger: ledger, arena: arena)
        else { return nil }
        // group k starts 8k rows in, in both layouts
        let source = weights.mapped, destination = storage.bytes, columns = inputs
        let copy = { (groups: Range<Int>) in
            let offset = groups.lowerBound * group * rowBytes
            kernel.interleave(source + offset, into: destination + offset, rows: groups.count * group, count: columns)
        }
        if let pool { pool.parallelFor(outputs / group, grain: 16, copy) } else { copy(0..<outputs / group) }
        return storage
    }

    /// y[m × outputs] = x[m × inputs] · Wᵀ
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>,
               compute: ComputeContext) throws {
        try compute.matmul.matmul(weights: data, type: type, rows: outputs, columns: inputs,
                                  input: x, inputRows: m, output: y, layout: layout)
    }

    /// Several matrices applied to the same input (q/k/v, gate/up): the
    /// input is quantized once and, when decoding, one pass of the threads
    /// covers them all. `outputs[i]` receives `x · linears[i]ᵀ`.
    static func apply(_ linears: [Linear], to x: UnsafePointer<Float>, rows m: Int,
                      into outputs: [UnsafeMutablePointer<Float>], compute: ComputeContext) throws {
        let products = zip(linears, outputs).map { linear, y in
            MatmulContext.MatrixProduct(weights: linear.data, type: linear.type, rows: linear.outputs, output: y,
                                        layout: linear.layout)
        }
        try compute.matmul.matmul(products, columns: linears[0].inputs, input: x, inputRows: m)
    }

    /// Bytes of weights one full application reads.
    var byteCount: Int { (type.byteCount(elements: inputs) ?? 0) * outputs }
}

/// The threads and scratch space a model computes with.
final class ComputeContext {
    let pool: ThreadPool
    let matmul: MatmulContext

    init(threads: Int) {
        pool = ThreadPool(threadCount: threads)
        matmul = MatmulContext(pool: pool)
    }

    func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        pool.parallelFor(count, body)
    }

    /// Row-wise work between products (norms, residual adds, SwiGLU's
    /// activation, biases and RoPE): split across the pool when a prompt
    /// gives each thread at least `rowsPerThread` rows, else run here. At
    /// two threads a 512-token prompt otherwise spends ~3 % of its samples
    /// in these loops on the calling thread alone while the other waits.
    /// Every row is computed as before, so results do not change.
    func forRows(_ count: Int, rowsPerThread: Int = 8, _ body: (Range<Int>) -> Void) {
        if pool.threadCount > 1, count >= 2 * rowsPerThread {
            pool.parallelFor(count, grain: rowsPerThread, body)
        } else if count > 0 {
            body(0..<count)
        }
    }
}

/// Rows of a token-embedding table, dequantized one at a time on lookup.
/// A tied table (the output matrix is the same tensor) reads its rows
/// through that matrix's `WeightSlot`, so once the output matrix's
/// interleaved copy is installed (and the mapped pages given back), the
/// lookup reads the copy: one copy of the tensor is resident, not two.
struct EmbeddingTable {
    let kernel: QuantKernel
    let weights: WeightSlot
    let width: Int
    let rowBytes: Int

    /// `tied`: the output matrix made from this same tensor, if it is.
    init(source: TensorSource, name: String, width: Int, count: Int, tied: Linear? = nil) throws {
        let t = try source.info(name)
        guard t.shape == [width, count] else { throw InferenceError.badTensorShape(name, expected: [width, count], found: t.shape) }
        guard let k = KernelTable.best[t.type], let rb = k.rowBytes(count: width) else {
            throw InferenceError.unsupportedTensorType(name, t.type.description)
        }
        kernel = k
        weights = tied?.weights ?? WeightSlot(mapped: source.file.data(of: t).baseAddress!)
        self.width = width
        rowBytes = rb
    }

    /// Whether the output matrix may be repacked when it is this table's
    /// tensor: only where rows can be read back out of the copy.
    static func tiedMayRepack(_ source: TensorSource, name: String) -> Bool {
        guard let t = source.file.tensor(named: name), let k = KernelTable.best[t.type] else { return false }
        return k.canReadInterleavedRows
    }

    /// Called under the model's evaluate lock (the forward pass), so an
    /// install does not swap the weights under a lookup.
    func row(_ token: Int, into out: UnsafeMutablePointer<Float>) {
        if weights.layout == .interleaved8 {
            kernel.dequantizeInterleavedRow(weights.data, row: token, into: out, count: width)
        } else {
            kernel.dequantize(weights.data + token * rowBytes, into: out, count: width)
        }
    }
}

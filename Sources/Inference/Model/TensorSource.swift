import GGUF
import Kernels

/// Reads a model's tensors out of a GGUF file by name, checking each shape
/// and type against what the architecture expects before anything computes
/// with it. Errors name the tensor.
struct TensorSource {
    let file: GGUFFile
    /// Whether `linear` copies matrices into an interleaved layout where
    /// their kernels have one (`ModelOptions.repacksWeights`), on `pool`'s threads.
    var repacksWeights = false
    var pool: ThreadPool? = nil
    /// Counts the copies made here and by expert banks built from here.
    let ledger: CopyLedger
    /// The memory those copies live in (`WeightArena`).
    let arena = WeightArena()
    /// The working memory every MoE layer built from here shares.
    let expertScratch = ExpertScratchShelf()
    /// The matrices to copy into their interleaved layout once every
    /// tensor is read (`Transformer.init` runs it now or after load).
    let layout: LayoutPreparation

    init(file: GGUFFile, repacksWeights: Bool = false, pool: ThreadPool? = nil) {
        self.file = file
        self.repacksWeights = repacksWeights
        self.pool = pool
        ledger = CopyLedger()
        layout = LayoutPreparation(file: file, ledger: ledger, arena: arena)
    }

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = file.tensor(named: name) else { throw InferenceError.missingTensor(name) }
        return t
    }

    /// A weight matrix applied as y = W·x, stored [outputs × inputs]
    /// (ggml shape [inputs, outputs]). With `repacksWeights`, a matrix whose
    /// kernel has an interleaved layout is queued to be copied into it
    /// (`layout`), and the mapped pages it came from are given back then
    /// (the file's bytes stay readable); `mayRepack: false` keeps a tensor
    /// that is also read row by row (a tied token embedding) as it is.
    func linear(_ name: String, inputs: Int, outputs: Int, mayRepack: Bool = true) throws -> Linear {
        let t = try info(name)
        try expectShape(t, [inputs, outputs])
        let linear = try Linear(name: name, tensor: t, data: file.data(of: t).baseAddress!)
        if repacksWeights, mayRepack { layout.add(linear, pagesOf: t) }
        return linear
    }

    /// Consecutive blocks of rows of one fused matrix (Phi-3's `attn_qkv`
    /// holding q|k|v, `ffn_up` holding gate|up), each a matrix of its own
    /// over the same mapped bytes: row r starts r·rowBytes in, in every type.
    func linearSplit(_ name: String, inputs: Int, outputs: [Int]) throws -> [Linear] {
        let t = try info(name)
        try expectShape(t, [inputs, outputs.reduce(0, +)])
        let base = file.data(of: t).baseAddress!
        guard let rowBytes = t.type.byteCount(elements: inputs) else {
            throw InferenceError.unsupportedTensorType(name, t.type.description)
        }
        var first = 0
        var parts: [Linear] = []
        for (i, rows) in outputs.enumerated() {
            let part = try Linear(name: "\(name)[\(i)]", tensor: t, data: base + first * rowBytes, rows: rows)
            if repacksWeights { layout.add(part, pagesOf: nil) }
            parts.append(part)
            first += rows
        }
        return parts
    }

    func linearIfPresent(_ name: String, inputs: Int, outputs: Int) throws -> Linear? {
        has(name) ? try linear(name, inputs: inputs, outputs: outputs) : nil
    }

    /// A stack of `count` matrices [outputs × inputs] in one tensor (ggml
    /// shape [inputs, outputs, count]), as MoE files store their experts.
    func stackedLinear(_ name: String, inputs: Int, outputs: Int, count: Int) throws -> [Linear] {
        let t = try info(name)
        try expectShape(t, [inputs, outputs, count])
        let base = file.data(of: t).baseAddress!
        let stride = t.byteCount / count
        return try (0..<count).map { e in
            try Linear(name: "\(name)[\(e)]", tensor: t, data: base + e * stride, rows: outputs)
        }
    }

    /// A vector (norm weights, biases), dequantized to F32 once at load.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        try expectShape(t, [count])
        return try dequantize(t)
    }

    func vectorIfPresent(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }

    func dequantize(_ t: GGUFTensorInfo) throws -> [Float] {
        guard let kernel = KernelTable.best[t.type] else {
            throw InferenceError.unsupportedTensorType(t.name, t.type.description)
        }
        var out = [Float](repeating: 0, count: t.elementCount)
        let data = file.data(of: t)
        out.withUnsafeMutableBufferPointer { kernel.dequantize(data.baseAddress!, into: $0.baseAddress!, count: t.elementCount) }
        return out
    }

    private func expectShape(_ t: GGUFTensorInfo, _ expected: [Int]) throws {
        // ggml drops trailing 1s from shapes; compare with them padded back.
        var found = t.shape
        while found.count < expected.count { found.append(1) }
        guard found == expected else { throw InferenceError.badTensorShape(t.name, expected: expected, found: t.shape) }
    }
}

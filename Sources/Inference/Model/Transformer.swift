import GGUF
import Kernels

/// A decoder-only transformer read from a GGUF file: Llama and its relatives
/// (RMSNorm, RoPE, grouped-query attention, gated FFNs; what differs per
/// family is data in `Architecture` and `AttentionPlan`), with a KV cache
/// that holds several sequences. Weights stay memory-mapped in the file.
///
/// Not thread-safe: one caller evaluates at a time (the backend serialises).
public final class Transformer {
    public let hyperparameters: Hyperparameters
    public let architecture: Architecture
    public let options: ModelOptions
    public let cache: KVCache
    let file: GGUFFile
    /// The private weight copies made at load and by expert repacks.
    let copies: CopyLedger
    /// The interleaved copies still to be made after load, if any.
    let layout: LayoutPreparation

    // Weights.
    let tokenEmbedding: EmbeddingTable   // token_embd    [embedding × vocabulary]
    let layers: [TransformerLayer]       // blk.N.*
    let outputNorm: [Float]              // output_norm   [embedding]
    let output: Linear                   // output        [embedding → vocabulary] (or token_embd when tied)

    // Run state, allocated once.
    let compute: ComputeContext
    let state: RunState
    let plan: AttentionPlan

    public init(file: GGUFFile, options: ModelOptions = ModelOptions()) throws {
        let h = try Hyperparameters(file.metadata)
        guard let a = Architecture.named(h.architecture) else {
            throw InferenceError.unsupportedArchitecture(h.architecture)
        }
        let compute = ComputeContext(threads: options.threads)
        let source = TensorSource(file: file, repacksWeights: options.repacksWeights, pool: compute.pool)
        let d = h.embeddingSize
        self.file = file
        copies = source.ledger
        layout = source.layout
        self.hyperparameters = h
        self.architecture = a
        self.options = options
        layers = try (0..<h.layerCount).map { try TransformerLayer(index: $0, source: source, shape: h, architecture: a) }
        outputNorm = try source.vector("output_norm.weight", count: d)
        // A tied output (token_embd) is repacked only where the embedding
        // lookup can read its rows from the copy (Q8_0 at avx512vnni).
        let separate = try source.linearIfPresent("output.weight", inputs: d, outputs: h.vocabularySize)
        output = try separate ?? source.linear("token_embd.weight", inputs: d, outputs: h.vocabularySize,
                                               mayRepack: EmbeddingTable.tiedMayRepack(source, name: "token_embd.weight"))
        tokenEmbedding = try EmbeddingTable(source: source, name: "token_embd.weight", width: d, count: h.vocabularySize,
                                            tied: separate == nil ? output : nil)
        let context = options.contextLength > 0 ? min(options.contextLength, h.contextLength) : h.contextLength
        guard h.headSize % options.kvType.blockSize == 0 else {
            throw InferenceError.badHyperparameter("kv_type", "a \(options.kvType) KV cache needs a head size that is a " +
                "multiple of \(options.kvType.blockSize); this model's is \(h.headSize) (use kv_type f16 or f32)")
        }
        let plan = try AttentionPlan(shape: h, architecture: a, contextLength: context, source: source)
        // Soft-capped attention (Gemma 2) caps the raw scores before the
        // softmax, which the typed attention kernels do not do: it reads an
        // F32 cache whatever kv_type says.
        cache = KVCache(layers: h.layerCount, kvWidth: h.kvWidth, contextLength: context,
                        type: plan.softCap == nil ? options.kvType : .f32)
        self.compute = compute
        state = RunState(shape: h, maxBatch: options.maxBatch, feedForwardSize: layers.map(\.feedForward.hiddenSize).max() ?? 0)
        self.plan = plan
        if layout.matrixByteCount <= options.repackAfterLoadBytes { layout.runNow(pool: compute.pool) }
        layout.start(preparingExperts: options.preparesExperts)
    }

    deinit { layout.cancel() }

    /// Matrices still waiting for their interleaved copy (made after load
    /// for a large file; 0 once every matrix is in its final layout).
    public var layoutPendingMatrices: Int { layout.pendingCount }

    /// Waits until every matrix is in its final layout (tests, benchmarks).
    public func waitForLayout() { layout.wait() }

    public var vocabularySize: Int { hyperparameters.vocabularySize }

    /// Bytes of the activation buffers, of the attention scores (per
    /// thread, a context's worth) and of the MoE layers' working memory (as
    /// grown so far). Logits belong to the caller.
    public var scratchBytes: Int {
        state.byteCount + options.threads * cache.contextLength * 4 + expertScratchBytes
    }

    /// Bytes of the weights as held: the pages of the mapped file this
    /// process has resident (a MoE file's unused experts are never read in;
    /// a repacked matrix gives its pages back), plus the private copies.
    /// Where residency cannot be read, the whole file counts. While the
    /// layout is prepared after load, the copies still to be made count
    /// too, so the figure taken when the model becomes ready (the
    /// daemon's memory account) bounds what it will hold.
    public var weightBytes: Int { (file.residentBytes ?? file.fileSize) + copies.bytes + layout.byteCount }

    /// Evaluates `batch` and returns the logits of the entries that want them,
    /// one row of `vocabularySize` values each, in batch order.
    public func evaluate(_ batch: [BatchEntry]) throws -> [Float] {
        let rows = batch.reduce(0) { $0 + ($1.wantsLogits ? 1 : 0) }
        // The output product writes every float of the rows (or the pass
        // throws and the array is dropped), so they need no zeroing: four
        // SmolLM2 streams' logits are 786 KB a step.
        guard rows > 0 else {
            var none: Float = 0  // no row is written: the pass fills the cache only
            try evaluate(batch, logits: &none)
            return []
        }
        return try [Float](unsafeUninitializedCapacity: rows * vocabularySize) { buffer, count in
            try evaluate(batch, logits: buffer.baseAddress!)
            count = buffer.count
        }
    }

    /// As `evaluate(_:)`, writing into `logits`, which must hold a row per
    /// entry that wants logits.
    public func evaluate(_ batch: [BatchEntry], logits: UnsafeMutablePointer<Float>) throws {
        try validate(batch)
        // no copy made after load is swapped in while this pass reads the weights
        layout.evaluateLock.lock()
        defer { layout.evaluateLock.unlock() }
        layout.installFinished()
        var written = 0
        var start = 0
        while start < batch.count {
            let chunk = Array(batch[start..<min(start + options.maxBatch, batch.count)])
            try forward(chunk, logits: logits + written * vocabularySize)
            written += chunk.reduce(0) { $0 + ($1.wantsLogits ? 1 : 0) }
            start += chunk.count
        }
    }

    /// Tokens must be in the vocabulary and each sequence must continue where
    /// it stopped (rewind with `cache.truncate` first), within the context.
    private func validate(_ batch: [BatchEntry]) throws {
        var next: [Int32: Int] = [:]
        for e in batch {
            guard e.token >= 0, Int(e.token) < vocabularySize else {
                throw InferenceError.badToken(e.token, vocabularySize: vocabularySize)
            }
            let expected = next[e.sequence] ?? cache.length(of: e.sequence)
            guard e.position == expected else {
                throw InferenceError.badBatch("sequence \(e.sequence) is at position \(expected), got a token for \(e.position)")
            }
            guard e.position < cache.contextLength else {
                throw InferenceError.contextFull(sequence: e.sequence, contextLength: cache.contextLength)
            }
            next[e.sequence] = expected + 1
        }
    }
}

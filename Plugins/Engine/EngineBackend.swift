import CMoePlugin
import GGUF
import Inference
import Kernels
import MoePluginKit
import Tokenizer
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What tells one engine plugin from another: its name, and which files it
/// takes. Evaluation is the same `Inference.LanguageModel` for all of them
/// (a MoE file's layers simply route their feed-forward through experts).
public protocol EngineFlavor {
    static var pluginName: String { get }
    static var pluginVersion: String { get }
    /// Throws a `PluginFailure` naming why this plugin does not take the file.
    static func check(_ h: Hyperparameters) throws
}

/// `Inference.LanguageModel` behind the plugin ABI. Weights stay
/// memory-mapped, so opening costs a map; closing unmaps them and frees the
/// KV cache. Plugins/Dense and Plugins/MoE are this class with a flavor.
public final class EngineBackend<Flavor: EngineFlavor>: SequenceEditingBackend {
    public static var pluginName: String { Flavor.pluginName }
    public static var pluginVersion: String { Flavor.pluginVersion }

    let model: LanguageModel
    /// Rows of logits the host may ask for at once (one per sequence).
    private let maxSequences: Int
    private var sequences: Set<Int32> = []
    private var nextSequence: Int32 = 0
    private init(model: LanguageModel, maxSequences: Int) {
        self.model = model
        self.maxSequences = maxSequences
    }

    public static func refusal(host: moe_host_info) -> String? {
        nil  // the kernels pick AVX-512, AVX2 or scalar code at run time
    }

    /// What opening takes: the mapped file (counted whole, though a MoE
    /// token only touches its chosen experts' pages), the KV cache of one
    /// sequence at the full context in the chosen type (the cache grows
    /// lazily; the host reserves per sequence), and activations for a
    /// 256-token batch.
    public static func estimate(_ request: OpenRequest) throws -> moe_memory_estimate {
        let file = try failure(MOE_ERR_FORMAT) { try GGUFFile(path: request.path) }
        let h = try failure(MOE_ERR_FORMAT) { try Hyperparameters(file.metadata) }
        try Flavor.check(h)
        let type = try kvType(request.kvType, headSize: h.headSize)
        let context = request.contextLength > 0 ? min(request.contextLength, h.contextLength) : h.contextLength
        let (perLayer, o1) = (2 * type.rowBytes(h.kvWidth)).multipliedReportingOverflow(by: context)
        let (cache, o2) = perLayer.multipliedReportingOverflow(by: h.layerCount)
        guard !o1, !o2 else { throw PluginFailure(MOE_ERR_FORMAT, "KV cache size overflows") }
        let hidden = max(h.feedForwardSize, h.expertFeedForwardSize, h.sharedExpertFeedForwardSize)
        let scratch = 256 * (h.embeddingSize * 6 + hidden * 3 + h.expertCount + h.vocabularySize) * 4
        return moe_memory_estimate(weight_bytes: UInt64(file.fileSize), cache_bytes: UInt64(cache), scratch_bytes: UInt64(scratch))
    }

    /// The cache type moe_open_params.kv_type asks for, refused (naming
    /// why) when unknown or when the model's heads do not fit its blocks.
    static func kvType(_ raw: UInt32, headSize: Int) throws -> KVCacheType {
        let type: KVCacheType
        switch raw {
        case MOE_KV_CACHE_DEFAULT.rawValue: type = .standard
        case MOE_KV_CACHE_F32.rawValue: type = .f32
        case MOE_KV_CACHE_F16.rawValue: type = .f16
        case MOE_KV_CACHE_Q8_0.rawValue: type = .q8_0
        default: throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "unknown KV cache type \(raw)")
        }
        guard headSize % type.blockSize == 0 else {
            throw PluginFailure(MOE_ERR_UNSUPPORTED, "a \(type) KV cache needs heads whose size is a multiple of " +
                                "\(type.blockSize); this model's heads are \(headSize) wide (use f16 or f32)")
        }
        return type
    }

    public static func open(_ request: OpenRequest, progress: (Float) -> Void) throws -> EngineBackend {
        guard access(request.path, R_OK) == 0 else {
            throw PluginFailure(MOE_ERR_NOT_FOUND, "cannot read \(request.path): \(String(cString: strerror(errno)))")
        }
        progress(0)
        let threads = request.threads > 0 ? request.threads : 1
        let shape = try failure(MOE_ERR_FORMAT) { try Hyperparameters(GGUFFile(path: request.path).metadata) }
        let kvType = try kvType(request.kvType, headSize: shape.headSize)
        let options = ModelOptions(threads: threads, contextLength: request.contextLength, maxBatch: 256, kvType: kvType)
        let model = try failure(MOE_ERR_FORMAT) { try LanguageModel(path: request.path, options: options) }
        try Flavor.check(model.transformer.hyperparameters)
        if request.expertsUsed > 0 {
            try failure(MOE_ERR_INVALID_ARGUMENT) { try model.transformer.setExpertsUsed(request.expertsUsed) }
        }
        progress(1)
        return EngineBackend(model: model, maxSequences: request.maxSequences)
    }

    public func memoryUsage() throws -> moe_memory_usage {
        let t = model.transformer
        // A decode step's logits: a row per sequence, in the plugin and in the host's copy.
        let logits = 2 * maxSequences * t.vocabularySize * 4
        return moe_memory_usage(weight_bytes: UInt64(t.weightBytes), cache_bytes: UInt64(t.cache.allocatedBytes),
                                scratch_bytes: UInt64(t.scratchBytes + logits))
    }

    public func sequenceBytes(positions: Int) throws -> UInt64 {
        UInt64(model.transformer.cache.bytes(forPositions: positions))
    }

    public func describe() -> ModelDescription {
        let t = model.transformer, h = t.hyperparameters
        let name = (try? model.file.metadata.stringIfPresent("general.name")) ?? nil
        let tokenizer = model.tokenizer
        return ModelDescription(
            architecture: h.architecture, name: name ?? "", vocabularySize: t.vocabularySize,
            contextLength: t.cache.contextLength, layers: h.layerCount,
            experts: t.expertCount, expertsUsed: t.expertsUsed,
            bos: tokenizer.bos, eos: tokenizer.eos, eot: tokenizer.eot ?? tokenizer.eom)
    }

    public var vocabularySize: Int { model.transformer.vocabularySize }

    public func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        model.tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }

    public func detokenize(_ tokens: [Int32]) throws -> [UInt8] {
        let size = model.tokenizer.vocabularySize
        for token in tokens where token < 0 || Int(token) >= size {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "token \(token) outside the vocabulary of \(size)")
        }
        return tokens.flatMap { model.tokenizer.piece($0) }
    }

    public func renderChat(_ messages: [(role: String, content: String)], addGenerationPrompt: Bool) throws -> String {
        if case let .failure(error) = model.promptRenderer {
            // Decided at load: no template, or one neither the Jinja interpreter nor a built-in renderer runs.
            throw PluginFailure(MOE_ERR_UNSUPPORTED, "\(error)")
        }
        do {
            return try model.renderChat(messages.map { ChatMessage(role: $0.role, content: $0.content) },
                                        addGenerationPrompt: addGenerationPrompt)
        } catch {
            // The template refused these messages (raise_exception: roles must alternate, …).
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "\(error)")
        }
    }

    public func createSequence() throws -> Int32 {
        defer { nextSequence &+= 1 }
        sequences.insert(nextSequence)
        return nextSequence
    }

    public func clearSequence(_ sequence: Int32) throws {
        try requireSequence(sequence)
        model.transformer.cache.truncate(sequence, to: 0)
    }

    public func removeSequence(_ sequence: Int32) throws {
        try requireSequence(sequence)
        sequences.remove(sequence)
        model.transformer.cache.remove(sequence)
    }

    public func truncateSequence(_ sequence: Int32, to count: Int) throws {
        try requireSequence(sequence, holding: count)
        model.transformer.cache.truncate(sequence, to: count)
    }

    public func copySequence(_ source: Int32, to destination: Int32, count: Int) throws {
        try requireSequence(source, holding: count)
        try requireSequence(destination)
        model.transformer.cache.copy(source, to: destination, count: count)
    }

    public func sequenceBytes(_ sequence: Int32) throws -> UInt64 {
        try requireSequence(sequence)
        return UInt64(model.transformer.cache.bytes(of: sequence))
    }

    public func evaluate(_ items: [moe_batch_item], logits: UnsafeMutablePointer<Float>) throws {
        for item in items { try requireSequence(item.sequence) }
        let batch = items.map {
            BatchEntry(token: $0.token, position: Int($0.position), sequence: $0.sequence, wantsLogits: $0.want_logits != 0)
        }
        try Self.failure(MOE_ERR_INVALID_ARGUMENT) { try model.transformer.evaluate(batch, logits: logits) }
    }

    /// layers × experts router pick counts since open, layer-major; empty for a dense file.
    /// The tokenizer's whole end-of-generation set, sorted.
    public func endOfGenerationTokens() throws -> [Int32] {
        model.tokenizer.endOfGenerationTokens.sorted()
    }

    public func expertCounts() throws -> [UInt64] {
        (model.transformer.expertStatistics?.layers ?? []).flatMap { $0.selections.map { UInt64($0) } }
    }

    /// Per layer, the mean entropy (nats) of the router's distribution per token; empty for a dense file.
    public func routingEntropy() throws -> [Double] {
        (model.transformer.expertStatistics?.layers ?? []).map(\.meanEntropy)
    }

    private func requireSequence(_ sequence: Int32, holding count: Int? = nil) throws {
        try requireSequence(sequence)
        let length = model.transformer.cache.length(of: sequence)
        if let count, count > length {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "sequence \(sequence) holds \(length) positions, not \(count)")
        }
    }

    private func requireSequence(_ sequence: Int32) throws {
        guard sequences.contains(sequence) else { throw PluginFailure(MOE_ERR_NOT_FOUND, "no sequence \(sequence)") }
    }

    /// Maps an engine error to a status, keeping its message.
    static func failure<T>(_ status: moe_status, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PluginFailure { throw error } catch {
            throw PluginFailure(status, "\(error)")
        }
    }
}

import GGUF

/// The shape of a transformer, read from `<arch>.*` GGUF keys.
public struct Hyperparameters: Sendable, Equatable {
    public var architecture: String
    public var contextLength: Int          // <arch>.context_length
    public var embeddingSize: Int          // <arch>.embedding_length
    public var layerCount: Int             // <arch>.block_count
    public var feedForwardSize: Int        // <arch>.feed_forward_length
    public var headCount: Int              // <arch>.attention.head_count
    public var kvHeadCount: Int            // <arch>.attention.head_count_kv (default: head_count)
    public var headSize: Int               // <arch>.attention.key_length (default: embedding / heads)
    public var rmsEpsilon: Float           // <arch>.attention.layer_norm_rms_epsilon
    public var ropeBase: Float             // <arch>.rope.freq_base (default 10000)
    public var ropeDimensions: Int         // <arch>.rope.dimension_count (default: head size)
    public var ropeScale: Float            // 1 / <arch>.rope.scaling.factor for linear scaling
    public var vocabularySize: Int         // <arch>.vocab_size, else the tokenizer's
    public var expertCount: Int            // <arch>.expert_count (0: dense)
    public var expertsUsed: Int            // <arch>.expert_used_count
    public var expertFeedForwardSize: Int  // <arch>.expert_feed_forward_length (default: feed_forward_length)
    public var sharedExpertFeedForwardSize: Int // <arch>.expert_shared_feed_forward_length
    // Routing keys some files set; when absent the family's routing decides.
    public var expertWeightsNormalized: Bool?   // <arch>.expert_weights_norm
    public var expertWeightsScale: Float?       // <arch>.expert_weights_scale
    public var expertGatingFunction: Int?       // <arch>.expert_gating_func (1 softmax, 2 sigmoid, 3 softmax over selected)

    public var qWidth: Int { headCount * headSize }
    public var kvWidth: Int { kvHeadCount * headSize }
    public var isMixtureOfExperts: Bool { expertCount > 0 }

    public init(_ meta: GGUFMetadata) throws {
        let arch = try meta.string("general.architecture")
        func key(_ k: String) -> String { "\(arch).\(k)" }
        func positive(_ k: String, _ value: Int?) throws -> Int {
            guard let v = value else { throw InferenceError.badHyperparameter(key(k), "missing") }
            guard v > 0, v < 1 << 24 else { throw InferenceError.badHyperparameter(key(k), "\(v) is out of range") }
            return v
        }
        architecture = arch
        contextLength = try positive("context_length", meta.intIfPresent(key("context_length")))
        embeddingSize = try positive("embedding_length", meta.intIfPresent(key("embedding_length")))
        layerCount = try positive("block_count", meta.intIfPresent(key("block_count")))
        headCount = try positive("attention.head_count", meta.intIfPresent(key("attention.head_count")))
        kvHeadCount = try positive("attention.head_count_kv",
                                   meta.intIfPresent(key("attention.head_count_kv")) ?? headCount)
        headSize = try positive("attention.key_length",
                                meta.intIfPresent(key("attention.key_length")) ?? embeddingSize / headCount)
        rmsEpsilon = try meta.floatIfPresent(key("attention.layer_norm_rms_epsilon")) ?? 1e-5
        ropeBase = try meta.floatIfPresent(key("rope.freq_base")) ?? 10_000
        ropeDimensions = try positive("rope.dimension_count",
                                      meta.intIfPresent(key("rope.dimension_count")) ?? headSize)
        let scalingType = try meta.stringIfPresent(key("rope.scaling.type")) ?? "none"
        let scalingFactor = try meta.floatIfPresent(key("rope.scaling.factor")) ?? 1
        ropeScale = (scalingType == "linear" && scalingFactor > 0) ? 1 / scalingFactor : 1
        expertCount = try meta.intIfPresent(key("expert_count")) ?? 0
        expertsUsed = try meta.intIfPresent(key("expert_used_count")) ?? 0
        let ffn = try meta.intIfPresent(key("feed_forward_length"))
        let expertFFN = try meta.intIfPresent(key("expert_feed_forward_length"))
        feedForwardSize = try positive("feed_forward_length", ffn ?? expertFFN)
        expertFeedForwardSize = expertFFN ?? feedForwardSize
        sharedExpertFeedForwardSize = try meta.intIfPresent(key("expert_shared_feed_forward_length")) ?? 0
        expertWeightsNormalized = try meta.boolIfPresent(key("expert_weights_norm"))
        expertWeightsScale = try meta.floatIfPresent(key("expert_weights_scale"))
        expertGatingFunction = try meta.intIfPresent(key("expert_gating_func"))
        let vocab = try meta.intIfPresent(key("vocab_size")) ?? meta.arrayIfPresent("tokenizer.ggml.tokens")?.count
        vocabularySize = try positive("vocab_size", vocab)
        try validate()
    }

    private func validate() throws {
        let arch = architecture
        guard headCount % kvHeadCount == 0 else {
            throw InferenceError.badHyperparameter("\(arch).attention.head_count_kv",
                "\(kvHeadCount) does not divide head_count \(headCount)")
        }
        guard ropeDimensions <= headSize, ropeDimensions % 2 == 0 else {
            throw InferenceError.badHyperparameter("\(arch).rope.dimension_count",
                "\(ropeDimensions) must be even and at most the head size \(headSize)")
        }
        guard rmsEpsilon > 0, rmsEpsilon.isFinite, ropeBase > 0, ropeBase.isFinite else {
            throw InferenceError.badHyperparameter("\(arch).attention.layer_norm_rms_epsilon / rope.freq_base",
                "must be positive and finite")
        }
        guard expertCount >= 0, expertCount <= 1024, expertsUsed >= 0, expertsUsed <= expertCount,
              expertCount == 0 || expertsUsed > 0 else {
            throw InferenceError.badHyperparameter("\(arch).expert_used_count",
                "\(expertsUsed) experts used of \(expertCount)")
        }
        guard expertFeedForwardSize > 0, expertFeedForwardSize < 1 << 24,
              sharedExpertFeedForwardSize >= 0, sharedExpertFeedForwardSize < 1 << 24 else {
            throw InferenceError.badHyperparameter("\(arch).expert_feed_forward_length",
                "\(expertFeedForwardSize) (shared \(sharedExpertFeedForwardSize)) is out of range")
        }
        if let scale = expertWeightsScale, !scale.isFinite {
            throw InferenceError.badHyperparameter("\(arch).expert_weights_scale", "must be finite")
        }
    }
}

import Foundation
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
    public var ropeOriginalContext: Int    // <arch>.rope.scaling.original_context_length (default: context_length)
    public var ropeAttentionFactor: Float  // <arch>.rope.scaling.attn_factor (LongRoPE magnitude, default 1)
    public var llama3RopeScaling: Llama3RopeScaling? // <arch>.rope.scaling.type = "llama3" and its keys
    public var localRopeBase: Float?       // <arch>.rope.freq_base_swa (sliding-window layers)
    public var slidingWindow: Int?         // <arch>.attention.sliding_window
    public var slidingWindowPattern: SlidingWindowPattern? // <arch>.attention.sliding_window_pattern
    public var attentionSoftCap: Float?    // <arch>.attn_logit_softcapping
    public var finalSoftCap: Float?        // <arch>.final_logit_softcapping
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
        let scalingType = try meta.stringIfPresent(key("rope.scaling.type")) ?? "linear"
        guard Self.ropeScalingTypes.contains(scalingType) else {
            throw InferenceError.badHyperparameter(key("rope.scaling.type"),
                "'\(scalingType)' is not supported (supported: \(Self.ropeScalingTypes.joined(separator: ", ")))")
        }
        // llama.cpp applies rope.scaling.factor as linear scaling whatever
        // the type says, LongRoPE included (its converter writes none).
        let scalingFactor = try meta.floatIfPresent(key("rope.scaling.factor"))
            ?? meta.floatIfPresent(key("rope.scale_linear")) ?? 0
        ropeScale = (scalingType != "none" && scalingType != "llama3" && scalingFactor > 0) ? 1 / scalingFactor : 1
        llama3RopeScaling = scalingType == "llama3" ? try Llama3RopeScaling(meta, prefix: arch, factor: scalingFactor) : nil
        ropeAttentionFactor = try meta.floatIfPresent(key("rope.scaling.attn_factor")) ?? 1
        localRopeBase = try meta.floatIfPresent(key("rope.freq_base_swa"))
        slidingWindow = try meta.intIfPresent(key("attention.sliding_window"))
        slidingWindowPattern = try SlidingWindowPattern(meta, key: key("attention.sliding_window_pattern"))
        attentionSoftCap = try meta.floatIfPresent(key("attn_logit_softcapping"))
        finalSoftCap = try meta.floatIfPresent(key("final_logit_softcapping"))
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
        ropeOriginalContext = try positive("rope.scaling.original_context_length",
                                           meta.intIfPresent(key("rope.scaling.original_context_length")) ?? contextLength)
        try validate()
    }

    /// RoPE scaling types this engine computes: llama.cpp's none, linear and
    /// longrope, and "llama3" stated as keys (llama.cpp's converter writes a
    /// `rope_freqs` tensor instead, which wins when both are present). YaRN
    /// is refused rather than run unscaled.
    static let ropeScalingTypes = ["none", "linear", "longrope", "llama3"]

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
        try validateAttentionKeys()
    }

    private func validateAttentionKeys() throws {
        let arch = architecture
        for (name, value) in [("rope.scaling.attn_factor", ropeAttentionFactor), ("rope.freq_base_swa", localRopeBase),
                              ("attn_logit_softcapping", attentionSoftCap), ("final_logit_softcapping", finalSoftCap)] {
            if let v = value, !(v.isFinite && v >= 0) {
                throw InferenceError.badHyperparameter("\(arch).\(name)", "\(v) must be finite and not negative")
            }
        }
        if let w = slidingWindow, w < 0 || w >= 1 << 24 {
            throw InferenceError.badHyperparameter("\(arch).attention.sliding_window", "\(w) is out of range")
        }
        if case .layers(let flags)? = slidingWindowPattern, flags.count != layerCount {
            throw InferenceError.badHyperparameter("\(arch).attention.sliding_window_pattern",
                "has \(flags.count) entries for \(layerCount) layers")
        }
    }
}

/// `attention.sliding_window_pattern`: a period (in each, the last layer is
/// global and the others slide; 0: all slide) or one flag per layer (true: slides).
public enum SlidingWindowPattern: Sendable, Equatable {
    case period(Int)
    case layers([Bool])

    init?(_ meta: GGUFMetadata, key: String) throws {
        guard let value = meta[key] else { return nil }
        if case .array(let array) = value {
            guard let flags = array.bools() else {
                throw InferenceError.badHyperparameter(key, "is an array of \(array.elementType), expected bools")
            }
            self = .layers(flags)
        } else {
            guard let n = try meta.intIfPresent(key), n >= 0, n < 1 << 16 else {
                throw InferenceError.badHyperparameter(key, "must be a layer period from 0 to 65535")
            }
            self = .period(n)
        }
    }

    /// Whether layer `index` attends through the window.
    func slides(layer index: Int) -> Bool {
        switch self {
        case .period(let n): return n == 0 || index % n < n - 1
        case .layers(let flags): return index < flags.count && flags[index]
        }
    }
}

/// Llama 3.1's RoPE scaling stated as keys (`rope.scaling.type = llama3`,
/// `rope.scaling.factor`, `.low_freq_factor`, `.high_freq_factor`,
/// `.original_context_length`; Hugging Face's defaults 8, 1, 4, 8192): each
/// pair's angle is divided by a factor that is 1 for short wavelengths,
/// `factor` for long ones and blended in between.
public struct Llama3RopeScaling: Sendable, Equatable {
    public var factor: Float
    public var lowFrequencyFactor: Float
    public var highFrequencyFactor: Float
    public var originalContext: Int

    init(_ meta: GGUFMetadata, prefix: String, factor: Float) throws {
        self.factor = factor > 0 ? factor : 8
        lowFrequencyFactor = try meta.floatIfPresent("\(prefix).rope.scaling.low_freq_factor") ?? 1
        highFrequencyFactor = try meta.floatIfPresent("\(prefix).rope.scaling.high_freq_factor") ?? 4
        originalContext = try meta.intIfPresent("\(prefix).rope.scaling.original_context_length") ?? 8192
        guard self.factor.isFinite, lowFrequencyFactor > 0, highFrequencyFactor > lowFrequencyFactor,
              highFrequencyFactor.isFinite, originalContext > 0 else {
            throw InferenceError.badHyperparameter("\(prefix).rope.scaling.*",
                "llama3 scaling needs factor > 0 and 0 < low_freq_factor < high_freq_factor")
        }
    }

    /// The divisor of each of `dimensions / 2` pairs, for RoPE base `base`.
    func factors(dimensions: Int, base: Float) -> [Float] {
        let original = Double(originalContext), low = Double(lowFrequencyFactor), high = Double(highFrequencyFactor)
        return stride(from: 0, to: dimensions, by: 2).map { i in
            let wavelength = 2 * Double.pi * pow(Double(base), Double(i) / Double(dimensions))
            if wavelength < original / high { return 1 }
            if wavelength > original / low { return factor }
            let smooth = (original / wavelength - low) / (high - low)
            return Float(1 / ((1 - smooth) / Double(factor) + smooth))
        }
    }
}

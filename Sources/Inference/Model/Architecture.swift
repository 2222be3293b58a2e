/// What distinguishes one transformer family from another, as data: the
/// forward pass reads these values and never asks for an architecture name.
/// Every family this engine runs is one entry of `Architecture.named`.
public struct Architecture: Sendable, Equatable {
    public var name: String
    /// Which dimensions RoPE rotates together.
    public var ropeStyle: RopeStyle
    /// Q/K/V projections carry biases (`attn_q.bias`, …).
    public var hasAttentionBiases: Bool
    /// RMSNorm applied to queries and keys before RoPE (`attn_q_norm`, `attn_k_norm`).
    public var queryKeyNorm: QueryKeyNorm
    /// How the router weighs experts, for files with `expert_count` > 0.
    public var routing: ExpertRouting
    /// The gate's activation in the gated feed-forward: SwiGLU or GeGLU.
    public var activation: Activation = .silu
    /// Token embeddings are multiplied by √embedding_length (Gemma).
    public var scalesEmbeddings = false
    /// RMSNorm on the attention and FFN outputs before each residual add
    /// (`post_attention_norm`, `post_ffw_norm`: Gemma 2 and 3).
    public var hasPostNorms = false
    /// Q/K/V in one `attn_qkv` tensor and gate|up in one `ffn_up` of twice
    /// the hidden size (Phi-3). Separate tensors are used when the file has them.
    public var fusedProjections = false
    /// Which layers attend through a sliding window, and their RoPE; nil:
    /// the family ignores sliding-window keys.
    public var slidingWindow: SlidingWindowRule? = nil
    /// Attention and final logit soft caps (`c·tanh(x/c)`); nil: none.
    public var softCapping: SoftCapping? = nil
    /// Gemma's largest size scales queries by 1/√(embedding/heads) rather
    /// than 1/√head_size; GGUF has no key for it (no query_pre_attn_scalar),
    /// so llama.cpp recognises that model by its layer count, and so do we.
    public var wideQueryScaleLayerCount: Int? = nil
    /// Queries are multiplied by the scale before q·k (llama.cpp's Gemma
    /// and Phi-3 graphs) rather than the scores after it; the same in exact
    /// arithmetic, not in Float, and a soft cap's tanh magnifies the last bit.
    public var scalesQueries = false

    public enum QueryKeyNorm: Sendable, Equatable {
        case none
        /// One weight vector per head size, applied to each head (Qwen3, Gemma 3).
        case perHead
        /// One weight vector over the whole projection (OLMoE).
        case wholeProjection
    }

    public enum Activation: Sendable, Equatable {
        /// silu(gate) ⊙ up
        case silu
        /// gelu(gate) ⊙ up with the tanh approximation, rounded through a
        /// half-precision table as ggml's CPU GELU is (see `geluMultiply`).
        case geluTanh
    }

    /// How a family lays out sliding-window (local) and global layers.
    public struct SlidingWindowRule: Sendable, Equatable {
        /// `attention.sliding_window_pattern` when the file has none: in each
        /// period the last layer is global, the others slide; 0 means every
        /// layer slides (llama.cpp's `set_swa_pattern`).
        public var period: Int
        /// Window (positions attended, the current one included) when the
        /// file has no `attention.sliding_window`; nil: no sliding window.
        public var defaultWindow: Int?
        /// RoPE base of the local layers when the file has no
        /// `rope.freq_base_swa`; nil: the global `rope.freq_base`.
        public var localRopeBase: Float?
        /// Whether local layers keep the file's RoPE scaling (Gemma 2) or
        /// rotate unscaled (Gemma 3's linear ×8 applies to global layers only).
        public var localRopeScaled: Bool
    }

    /// Soft caps `c·tanh(x/c)`: the family's defaults, which the file's keys
    /// (`attn_logit_softcapping`, `final_logit_softcapping`) override.
    public struct SoftCapping: Sendable, Equatable {
        /// The attention cap without a key; nil: this family never caps
        /// attention scores, whatever the file says (llama.cpp's Gemma 3).
        public var attention: Float?
        /// The final cap without a key; 0: none.
        public var final: Float
    }

    /// Every `general.architecture` this engine runs, for `moectl inspect`
    /// and error messages.
    public static let supportedNames = ["llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "olmoe",
                                        "gemma", "gemma2", "gemma3", "phi3"]

    /// Whether a file of this architecture can run here.
    public static func isSupported(_ name: String) -> Bool { named(name) != nil }

    /// The families this engine knows, by `general.architecture`.
    public static func named(_ name: String) -> Architecture? {
        switch name {
        // Llama, Mistral, Mixtral, SmolLM: GGUF's converter permuted Q/K for
        // interleaved RoPE. A Mixtral file is `llama` with experts. A file
        // that states `llama.attention.sliding_window` gets it on every layer
        // (Mistral 7B v0.1); llama.cpp ignores that key for `llama`.
        case "llama":
            var a = Architecture(name: name, ropeStyle: .interleaved, hasAttentionBiases: false, queryKeyNorm: .none,
                                 routing: .mixtral)
            a.slidingWindow = SlidingWindowRule(period: 0, defaultWindow: nil, localRopeBase: nil, localRopeScaled: true)
            return a
        case "qwen2", "qwen2moe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: true, queryKeyNorm: .none,
                                routing: .qwen2MoE)
        case "qwen3", "qwen3moe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: .perHead,
                                routing: .qwen3MoE)
        case "olmoe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: .wholeProjection,
                                routing: .olmoe)
        // Gemma (1), CodeGemma: GeGLU, √d embeddings, norm weights stored
        // as 1 + w (applied as stored), output tied to the embedding.
        case "gemma":
            var a = gemmaFamily(name, queryKeyNorm: .none)
            a.hasPostNorms = false
            return a
        // Gemma 2: GeGLU, √d embeddings, sandwich norms, soft caps (defaults
        // 50/30), every other layer local with a 4096 window. The trap: norm
        // weights are stored as 1 + w — the converter added Gemma's 1 — so
        // they are applied as stored. The output is always the embedding.
        case "gemma2":
            var a = gemmaFamily(name, queryKeyNorm: .none)
            a.slidingWindow = SlidingWindowRule(period: 2, defaultWindow: 4096, localRopeBase: nil, localRopeScaled: true)
            a.softCapping = SoftCapping(attention: 50, final: 30)
            a.wideQueryScaleLayerCount = 46
            return a
        // Gemma 3: as Gemma 2 without soft caps (a final cap only if the file
        // states one), with per-head q/k norms, five local layers (RoPE base
        // 10000, unscaled) to one global layer (rope.freq_base, the file's
        // scaling).
        case "gemma3":
            var a = gemmaFamily(name, queryKeyNorm: .perHead)
            a.slidingWindow = SlidingWindowRule(period: 6, defaultWindow: nil, localRopeBase: 10_000, localRopeScaled: false)
            a.softCapping = SoftCapping(attention: nil, final: 0)
            a.wideQueryScaleLayerCount = 62
            return a
        // Phi-3/3.5/4-mini: fused attn_qkv and gate|up, NeoX RoPE over the
        // first rope.dimension_count dims, LongRoPE factor tensors. Its
        // files state a sliding window that llama.cpp deliberately ignores
        // (the converter's value does not describe the model): so do we.
        case "phi3":
            var a = Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: .none,
                                 routing: .mixtral)
            a.fusedProjections = true
            a.scalesQueries = true
            return a
        default:
            return nil
        }
    }

    private static func gemmaFamily(_ name: String, queryKeyNorm: QueryKeyNorm) -> Architecture {
        var a = Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: queryKeyNorm,
                             routing: .mixtral)
        a.activation = .geluTanh
        a.scalesEmbeddings = true
        a.hasPostNorms = true
        a.scalesQueries = true
        return a
    }
}

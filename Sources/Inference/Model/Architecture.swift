/// What distinguishes one transformer family from another, as data: the
/// forward pass reads these values and never asks for an architecture name.
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

    public enum QueryKeyNorm: Sendable, Equatable {
        case none
        /// One weight vector per head size, applied to each head (Qwen3).
        case perHead
        /// One weight vector over the whole projection (OLMoE).
        case wholeProjection
    }

    /// Every `general.architecture` value `named` accepts (for `moectl inspect`).
    public static var knownNames: [String] {
        candidateNames.filter { named($0) != nil }
    }

    // Names tried for `knownNames`; a family added to `named` adds its name here.
    private static let candidateNames = [
        "llama", "llama4", "mistral3", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "olmoe", "gemma", "gemma2", "gemma3",
        "gemma3n", "phi2", "phi3", "phimoe", "deepseek2", "granite", "starcoder2", "command-r", "falcon",
    ]

    /// The families this engine knows, by `general.architecture`.
    public static func named(_ name: String) -> Architecture? {
        switch name {
        // Llama, Mistral, Mixtral, SmolLM: GGUF's converter permuted Q/K for
        // interleaved RoPE. A Mixtral file is `llama` with experts.
        case "llama":
            return Architecture(name: name, ropeStyle: .interleaved, hasAttentionBiases: false, queryKeyNorm: .none,
                                routing: .mixtral)
        case "qwen2", "qwen2moe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: true, queryKeyNorm: .none,
                                routing: .qwen2MoE)
        case "qwen3", "qwen3moe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: .perHead,
                                routing: .qwen3MoE)
        case "olmoe":
            return Architecture(name: name, ropeStyle: .halves, hasAttentionBiases: false, queryKeyNorm: .wholeProjection,
                                routing: .olmoe)
        default:
            return nil
        }
    }
}

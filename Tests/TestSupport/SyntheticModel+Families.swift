import GGUF

/// Presets of the dense families beyond Llama, with the keys that make each
/// feature bite on a prompt of ten-odd tokens (a window of 4, small soft caps).
extension SyntheticModel {
    /// Gemma 3: head size 32 over an embedding of 64, per-head q/k norms,
    /// post-norms, tied output; five local layers (window 4, RoPE base 10000)
    /// to one global (base 10⁶, linear scaling ×8), so 7 layers hold both kinds.
    public static func gemma3() -> SyntheticModel {
        var m = SyntheticModel()
        m.architecture = "gemma3"
        m.layers = 7
        m.keyLength = 32
        m.queryKeyNorm = .perHead
        m.postNorms = true
        m.separateOutput = false
        m.ropeBase = 1_000_000
        m.rmsEpsilon = 1e-6
        m.extraKeys = [("attention.sliding_window", .uint32(4)), ("rope.scaling.type", .string("linear")),
                       ("rope.scaling.factor", .float32(8))]
        return m
    }

    /// Gemma 2: every other layer local (window 4), attention and final soft caps.
    public static func gemma2(attentionCap: Float = 4, finalCap: Float = 3) -> SyntheticModel {
        var m = SyntheticModel()
        m.architecture = "gemma2"
        m.layers = 4
        m.postNorms = true
        m.separateOutput = false
        m.rmsEpsilon = 1e-6
        m.extraKeys = [("attention.sliding_window", .uint32(4)), ("attn_logit_softcapping", .float32(attentionCap)),
                       ("final_logit_softcapping", .float32(finalCap))]
        return m
    }

    /// Phi-3: fused attn_qkv and gate|up, RoPE over 12 of 16 dims, LongRoPE
    /// factors with an original context of 32 (below the model's 256, so the
    /// long factors and the attention factor apply).
    public static func phi3() -> SyntheticModel {
        var m = SyntheticModel()
        m.architecture = "phi3"
        m.fusedProjections = true
        m.ropeDimensions = 12
        m.extraKeys = [("rope.scaling.original_context_length", .uint32(32)),
                       ("rope.scaling.attn_factor", .float32(1.1))]
        m.extraVectors = [("rope_factors_long.weight", [1.0, 1.5, 2.0, 3.0, 3.5, 4.0]),
                          ("rope_factors_short.weight", [1.0, 1.01, 1.02, 1.03, 1.04, 1.05])]
        return m
    }

    /// Llama 3.1: per-pair RoPE divisors in `rope_freqs.weight`.
    public static func llama31() -> SyntheticModel {
        var m = SyntheticModel()
        m.ropeBase = 500_000
        m.extraVectors = [("rope_freqs.weight", [1, 1, 1.5, 2.5, 4, 6, 8, 8])]
        return m
    }
}

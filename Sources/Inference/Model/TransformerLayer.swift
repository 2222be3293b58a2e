/// One transformer block's weights: attention, then a feed-forward part
/// (a dense gated FFN, or routed experts in an MoE file).
struct TransformerLayer {
    // Attention.
    let attentionNorm: [Float]   // attn_norm      [embedding]
    let query: Linear            // attn_q         [embedding → heads × headSize]   (or rows of attn_qkv)
    let key: Linear              // attn_k         [embedding → kvHeads × headSize]
    let value: Linear            // attn_v         [embedding → kvHeads × headSize]
    let output: Linear           // attn_output    [heads × headSize → embedding]
    let queryBias: [Float]?      // attn_q.bias    (Qwen2 families)
    let keyBias: [Float]?        // attn_k.bias
    let valueBias: [Float]?      // attn_v.bias
    let queryNorm: [Float]?      // attn_q_norm    [headSize] or [heads × headSize]
    let keyNorm: [Float]?        // attn_k_norm    [headSize] or [kvHeads × headSize]
    let postAttentionNorm: [Float]? // post_attention_norm [embedding] (Gemma 2/3)

    // Feed-forward.
    let feedForwardNorm: [Float] // ffn_norm       [embedding]
    let feedForward: FeedForward
    let postFeedForwardNorm: [Float]? // post_ffw_norm [embedding] (Gemma 2/3)

    init(index i: Int, source: TensorSource, shape h: Hyperparameters, architecture a: Architecture) throws {
        let p = "blk.\(i)."
        let d = h.embeddingSize
        attentionNorm = try source.vector(p + "attn_norm.weight", count: d)
        if a.fusedProjections, !source.has(p + "attn_q.weight") {
            let parts = try source.linearSplit(p + "attn_qkv.weight", inputs: d, outputs: [h.qWidth, h.kvWidth, h.kvWidth])
            (query, key, value) = (parts[0], parts[1], parts[2])
        } else {
            query = try source.linear(p + "attn_q.weight", inputs: d, outputs: h.qWidth)
            key = try source.linear(p + "attn_k.weight", inputs: d, outputs: h.kvWidth)
            value = try source.linear(p + "attn_v.weight", inputs: d, outputs: h.kvWidth)
        }
        output = try source.linear(p + "attn_output.weight", inputs: h.qWidth, outputs: d)
        if a.hasAttentionBiases {
            queryBias = try source.vector(p + "attn_q.bias", count: h.qWidth)
            keyBias = try source.vector(p + "attn_k.bias", count: h.kvWidth)
            valueBias = try source.vector(p + "attn_v.bias", count: h.kvWidth)
        } else {
            (queryBias, keyBias, valueBias) = (nil, nil, nil)
        }
        switch a.queryKeyNorm {
        case .none:
            (queryNorm, keyNorm) = (nil, nil)
        case .perHead:
            queryNorm = try source.vector(p + "attn_q_norm.weight", count: h.headSize)
            keyNorm = try source.vector(p + "attn_k_norm.weight", count: h.headSize)
        case .wholeProjection:
            queryNorm = try source.vector(p + "attn_q_norm.weight", count: h.qWidth)
            keyNorm = try source.vector(p + "attn_k_norm.weight", count: h.kvWidth)
        }
        feedForwardNorm = try source.vector(p + "ffn_norm.weight", count: d)
        feedForward = try FeedForward(prefix: p, source: source, shape: h, architecture: a)
        if a.hasPostNorms {
            postAttentionNorm = try source.vector(p + "post_attention_norm.weight", count: d)
            postFeedForwardNorm = try source.vector(p + "post_ffw_norm.weight", count: d)
        } else {
            (postAttentionNorm, postFeedForwardNorm) = (nil, nil)
        }
    }
}

import GGUF

/// Tiny Llama-family models made in code and written as real GGUF files, so
/// tests exercise the same reader, kernels and forward pass as a download.
///
/// Weights are seeded pseudo-random values; the tokenizer is byte-level BPE
/// over all 256 bytes plus a few merges and ChatML special tokens.
public struct SyntheticModel {
    public var architecture = "llama"
    public var embedding = 64
    public var layers = 2
    public var heads = 4
    public var kvHeads = 2
    public var feedForward = 128
    public var contextLength = 256
    public var ropeBase: Float = 10_000
    public var rmsEpsilon: Float = 1e-5
    public var seed: UInt64 = 1
    /// Type of the large matrices; norms stay F32. Q8_0 and Q4_1 need widths that are multiples of 32.
    public var weightType: GGMLType = .f32
    /// Write a separate `output.weight` instead of tying it to the embeddings.
    public var separateOutput = true
    /// Leave these tensors out (to test errors).
    public var omittedTensors: Set<String> = []

    // Family features beyond Llama (all off by default: a dense Llama model).
    /// Q/K/V biases (Qwen2 families).
    public var attentionBiases = false
    /// RMSNorm weights on queries and keys: per head (Qwen3) or over the whole projection (OLMoE).
    public var queryKeyNorm: QueryKeyNormShape = .none
    /// Routed experts per layer (0: a dense SwiGLU); written as stacked `ffn_*_exps` tensors.
    public var experts = 0
    public var expertsUsed = 0
    /// Hidden size of each expert, written as `expert_feed_forward_length` when set.
    public var expertFeedForward: Int? = nil
    /// > 0: a sigmoid-gated shared expert of this hidden size (Qwen2-MoE).
    public var sharedExpertFeedForward = 0
    /// Extra `<arch>.KEY` metadata, e.g. `expert_weights_norm`.
    public var extraKeys: [(key: String, value: GGUFValue)] = []
    /// `attention.key_length` when set (heads × keyLength may differ from the embedding: Gemma 3).
    public var keyLength: Int? = nil
    /// `rope.dimension_count` when set (partial RoPE: Phi-3/4).
    public var ropeDimensions: Int? = nil
    /// `post_attention_norm` and `post_ffw_norm` per block (Gemma 2/3), weights around `postNormOffset`.
    public var postNorms = false
    public var postNormOffset: Float = 3
    /// Q/K/V as one `attn_qkv` and gate|up as one `ffn_up` (Phi-3).
    public var fusedProjections = false
    /// Model-wide vectors written as F32 (`rope_freqs.weight`, `rope_factors_long.weight`, …).
    public var extraVectors: [(name: String, values: [Float])] = []

    public enum QueryKeyNormShape: Sendable { case none, perHead, wholeProjection }

    public init() {}

    public var headSize: Int { keyLength ?? embedding / heads }
    public var rotatedDimensions: Int { ropeDimensions ?? headSize }
    public var vocabulary = SyntheticVocabulary()

    /// Writes the model to a fresh file under the temporary directory and returns its path.
    public func write(named name: String = "synthetic") throws -> String {
        let path = TemporaryFiles.path(name + ".gguf")
        try makeWriter().write(toFile: path)
        return path
    }

    public func makeWriter() throws -> GGUFWriter {
        var w = try GGUFWriter()
        let a = architecture
        try w.set("general.architecture", .string(a))
        try w.set("general.name", .string("synthetic-\(a)"))
        try w.set("\(a).context_length", .uint32(UInt32(contextLength)))
        try w.set("\(a).embedding_length", .uint32(UInt32(embedding)))
        try w.set("\(a).block_count", .uint32(UInt32(layers)))
        try w.set("\(a).feed_forward_length", .uint32(UInt32(feedForward)))
        try w.set("\(a).attention.head_count", .uint32(UInt32(heads)))
        try w.set("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        try w.set("\(a).attention.layer_norm_rms_epsilon", .float32(rmsEpsilon))
        try w.set("\(a).rope.freq_base", .float32(ropeBase))
        try w.set("\(a).rope.dimension_count", .uint32(UInt32(rotatedDimensions)))
        if let k = keyLength {
            try w.set("\(a).attention.key_length", .uint32(UInt32(k)))
            try w.set("\(a).attention.value_length", .uint32(UInt32(k)))
        }
        if experts > 0 {
            try w.set("\(a).expert_count", .uint32(UInt32(experts)))
            try w.set("\(a).expert_used_count", .uint32(UInt32(expertsUsed)))
        }
        if let f = expertFeedForward { try w.set("\(a).expert_feed_forward_length", .uint32(UInt32(f))) }
        if sharedExpertFeedForward > 0 {
            try w.set("\(a).expert_shared_feed_forward_length", .uint32(UInt32(sharedExpertFeedForward)))
        }
        for (key, value) in extraKeys { try w.set("\(a).\(key)", value) }
        try vocabulary.addMetadata(to: &w)
        try addTensors(to: &w)
        return w
    }

    private func addTensors(to w: inout GGUFWriter) throws {
        var random = SeededRandom(seed: seed)
        let d = embedding, v = vocabulary.count
        func add(_ name: String, _ shape: [Int], scale: Float, type: GGMLType? = nil, offset: Float = 0) throws {
            let values = (0..<shape.reduce(1, *)).map { _ in offset + scale * random.nextSigned() }
            guard !omittedTensors.contains(name) else { return }
            let t = type ?? weightType
            try w.addTensor(name: name, shape: shape, type: t, bytes: try encode(values, as: t))
        }
        try add("token_embd.weight", [d, v], scale: 0.5)
        for (name, values) in extraVectors {
            try w.addTensor(name: name, shape: [values.count], type: .f32, bytes: try encode(values, as: .f32))
        }
        for i in 0..<layers {
            let p = "blk.\(i)."
            try add(p + "attn_norm.weight", [d], scale: 0.2, type: .f32, offset: 1)
            if fusedProjections {
                try add(p + "attn_qkv.weight", [d, (heads + 2 * kvHeads) * headSize], scale: 0.3)
            } else {
                try add(p + "attn_q.weight", [d, heads * headSize], scale: 0.3)
                try add(p + "attn_k.weight", [d, kvHeads * headSize], scale: 0.3)
                try add(p + "attn_v.weight", [d, kvHeads * headSize], scale: 0.3)
            }
            try add(p + "attn_output.weight", [heads * headSize, d], scale: 0.3)
            if postNorms {
                try add(p + "post_attention_norm.weight", [d], scale: 0.5, type: .f32, offset: postNormOffset)
                try add(p + "post_ffw_norm.weight", [d], scale: 0.5, type: .f32, offset: postNormOffset)
            }
            if attentionBiases {
                try add(p + "attn_q.bias", [heads * headSize], scale: 0.2, type: .f32)
                try add(p + "attn_k.bias", [kvHeads * headSize], scale: 0.2, type: .f32)
                try add(p + "attn_v.bias", [kvHeads * headSize], scale: 0.2, type: .f32)
            }
            switch queryKeyNorm {
            case .none: break
            case .perHead:
                try add(p + "attn_q_norm.weight", [headSize], scale: 0.2, type: .f32, offset: 1)
                try add(p + "attn_k_norm.weight", [headSize], scale: 0.2, type: .f32, offset: 1)
            case .wholeProjection:
                try add(p + "attn_q_norm.weight", [heads * headSize], scale: 0.2, type: .f32, offset: 1)
                try add(p + "attn_k_norm.weight", [kvHeads * headSize], scale: 0.2, type: .f32, offset: 1)
            }
            try add(p + "ffn_norm.weight", [d], scale: 0.2, type: .f32, offset: 1)
            if experts > 0 {
                try addExperts(prefix: p, add)
            } else if fusedProjections {
                try add(p + "ffn_up.weight", [d, 2 * feedForward], scale: 0.3)
                try add(p + "ffn_down.weight", [feedForward, d], scale: 0.3)
            } else {
                try add(p + "ffn_gate.weight", [d, feedForward], scale: 0.3)
                try add(p + "ffn_up.weight", [d, feedForward], scale: 0.3)
                try add(p + "ffn_down.weight", [feedForward, d], scale: 0.3)
            }
        }
        try add("output_norm.weight", [d], scale: 0.2, type: .f32, offset: 1)
        if separateOutput { try add("output.weight", [d, v], scale: 0.5) }
    }
}

extension SyntheticModel {
    /// Router, stacked experts [in, out, experts] and the optional shared expert of one layer.
    private func addExperts(prefix p: String,
                            _ add: (String, [Int], Float, GGMLType?, Float) throws -> Void) throws {
        let d = embedding, f = expertFeedForward ?? feedForward, n = experts
        try add(p + "ffn_gate_inp.weight", [d, n], 0.3, .f32, 0)
        try add(p + "ffn_gate_exps.weight", [d, f, n], 0.3, nil, 0)
        try add(p + "ffn_up_exps.weight", [d, f, n], 0.3, nil, 0)
        try add(p + "ffn_down_exps.weight", [f, d, n], 0.3, nil, 0)
        if sharedExpertFeedForward > 0 {
            let fs = sharedExpertFeedForward
            try add(p + "ffn_gate_inp_shexp.weight", [d], 0.3, .f32, 0)
            try add(p + "ffn_gate_shexp.weight", [d, fs], 0.3, nil, 0)
            try add(p + "ffn_up_shexp.weight", [d, fs], 0.3, nil, 0)
            try add(p + "ffn_down_shexp.weight", [fs, d], 0.3, nil, 0)
        }
    }

    /// Mixtral layout: a `llama` file with experts (softmax, top-k, renormalised).
    public static func mixtral(experts: Int = 8, used: Int = 2) -> SyntheticModel {
        var m = SyntheticModel()
        m.experts = experts
        m.expertsUsed = used
        m.feedForward = 32
        return m
    }

    /// OLMoE: q/k norms over the whole projection, weights not renormalised,
    /// no grouped-query attention (llama.cpp sizes its k norm by n_embd).
    public static func olmoe(experts: Int = 8, used: Int = 2) -> SyntheticModel {
        var m = mixtral(experts: experts, used: used)
        m.architecture = "olmoe"
        m.queryKeyNorm = .wholeProjection
        m.kvHeads = m.heads
        return m
    }

    /// Qwen2-MoE: attention biases, not renormalised, sigmoid-gated shared expert.
    public static func qwen2MoE(experts: Int = 8, used: Int = 2) -> SyntheticModel {
        var m = mixtral(experts: experts, used: used)
        m.architecture = "qwen2moe"
        m.attentionBiases = true
        m.expertFeedForward = 32
        m.sharedExpertFeedForward = 64
        return m
    }

    /// Qwen3-MoE: per-head q/k norms, renormalised.
    public static func qwen3MoE(experts: Int = 8, used: Int = 2) -> SyntheticModel {
        var m = mixtral(experts: experts, used: used)
        m.architecture = "qwen3moe"
        m.queryKeyNorm = .perHead
        m.expertFeedForward = 32
        return m
    }
}

/// Raw bytes of `values` stored as `type` (F32, F16 via bit conversion, Q8_0 or Q4_1).
func encode(_ values: [Float], as type: GGMLType) throws -> [UInt8] {
    switch type {
    case .f32:
        return values.withUnsafeBytes { Array($0) }
    case .f16:
        return values.map { Float16($0) }.withUnsafeBytes { Array($0) }
    case .q8_0:
        return quantizeQ80(values)
    case .q4_1:
        return quantizeQ41(values)
    default:
        throw SyntheticModelError("synthetic models support f32, f16, q8_0 and q4_1 weights, not \(type)")
    }
}

/// Q4_1 as ggml's quantize_row_q4_1_ref rounds it: per 32 values, m = min,
/// d = (max − min) / 15, q = min(15, trunc((x − m) / d + 0.5)); byte j holds
/// value j in its low nibble and value j + 16 in its high one.
func quantizeQ41(_ values: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    for start in stride(from: 0, to: values.count, by: 32) {
        let block = Array(values[start..<start + 32])
        let low = block.min() ?? 0, high = block.max() ?? 0
        let d = (high - low) / 15
        let inverse: Float = d != 0 ? 1 / d : 0
        withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: Float16(low).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        let q = block.map { UInt8(min(15, Int8(($0 - low) * inverse + 0.5))) }
        for j in 0..<16 { out.append(q[j] | q[j + 16] << 4) }
    }
    return out
}

/// Q8_0 as ggml rounds it: per 32 values, d = max|x| / 127, q = round(x / d).
func quantizeQ80(_ values: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    for start in stride(from: 0, to: values.count, by: 32) {
        let block = values[start..<start + 32]
        let amax = block.map(abs).max() ?? 0
        let d = amax / 127
        let inverse: Float = d != 0 ? 1 / d : 0
        withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        for x in block { out.append(UInt8(bitPattern: Int8((x * inverse).rounded()))) }
    }
    return out
}

public struct SyntheticModelError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// xorshift64*: deterministic values for weights, independent of the engine's own RNG.
public struct SeededRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in [-1, 1).
    public mutating func nextSigned() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

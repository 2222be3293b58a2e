/// The feed-forward part of a block. Dense models have one gated FFN
/// (SwiGLU, or GeGLU for Gemma); MoE models (`expert_count` > 0) replace it
/// with routed experts.
enum FeedForward {
    case dense(SwiGLU)
    case experts(ExpertFeedForward)

    init(prefix p: String, source: TensorSource, shape h: Hyperparameters, architecture a: Architecture) throws {
        if h.isMixtureOfExperts {
            self = .experts(try ExpertFeedForward(prefix: p, source: source, shape: h, routing: a.routing.applying(h)))
            return
        }
        let d = h.embeddingSize, f = h.feedForwardSize
        let down = try source.linear(p + "ffn_down.weight", inputs: f, outputs: d)
        if a.fusedProjections, !source.has(p + "ffn_gate.weight") {
            // Phi-3: ffn_up holds the gate's rows, then the up rows.
            let parts = try source.linearSplit(p + "ffn_up.weight", inputs: d, outputs: [f, f])
            self = .dense(SwiGLU(gate: parts[0], up: parts[1], down: down, activation: a.activation))
            return
        }
        self = .dense(SwiGLU(
            gate: try source.linear(p + "ffn_gate.weight", inputs: d, outputs: f),
            up: try source.linear(p + "ffn_up.weight", inputs: d, outputs: f),
            down: down, activation: a.activation))
    }

    /// Width of the largest intermediate activation, for sizing buffers.
    var hiddenSize: Int {
        switch self {
        case .dense(let ffn): return ffn.hiddenSize
        case .experts(let moe): return moe.hiddenSize
        }
    }
}

/// down(act(gate·x) ⊙ up·x), act = silu (SwiGLU: every family's experts
/// and dense FFNs) or tanh-GELU (GeGLU: Gemma).
struct SwiGLU {
    let gate: Linear   // ffn_gate  [embedding → hidden]
    let up: Linear     // ffn_up    [embedding → hidden]
    let down: Linear   // ffn_down  [hidden → embedding]
    var activation: Architecture.Activation = .silu

    var hiddenSize: Int { gate.outputs }

    /// y[m × embedding] = FFN(x[m × embedding]); `gateBuffer` and `upBuffer`
    /// hold m × hidden values each. Gate and up share one quantized input and
    /// one pass of the thread pool.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>,
               gateBuffer: UnsafeMutablePointer<Float>, upBuffer: UnsafeMutablePointer<Float>,
               compute: ComputeContext) throws {
        try Linear.apply([gate, up], to: x, rows: m, into: [gateBuffer, upBuffer], compute: compute)
        let f = hiddenSize, activation = activation
        compute.forRows(m) { rows in
            let gate = gateBuffer + rows.lowerBound * f, up = upBuffer + rows.lowerBound * f
            switch activation {
            case .silu: siluMultiply(gate, up, count: rows.count * f)
            case .geluTanh: geluMultiply(gate, up, count: rows.count * f)
            }
        }
        try down.apply(gateBuffer, rows: m, into: y, compute: compute)
    }
}

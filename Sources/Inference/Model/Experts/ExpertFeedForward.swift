import Foundation
import Kernels

/// A Mixture-of-Experts feed-forward block: a router picks `expertsUsed` of
/// `expertCount` SwiGLU experts per token and mixes their outputs by the
/// routing weights; some families add an always-on shared expert.
///
/// The experts come from the file's stacked tensors (`ExpertBank`, which
/// repacks each on its first use); a batch reads each chosen expert's
/// weights once and never touches the others, so work per token follows
/// the active parameters, not the total.
///
/// A class because its statistics and experts-used setting change while the
/// weights do not; only the thread running the forward pass touches it.
final class ExpertFeedForward {
    let router: Linear        // ffn_gate_inp       [embedding → experts]
    let experts: ExpertBank   // ffn_{gate,up}_exps [embedding → hidden], ffn_down_exps [hidden → embedding], per expert
    let shared: SwiGLU?       // ffn_{gate,up,down}_shexp (Qwen2-MoE)
    let sharedGate: [Float]?  // ffn_gate_inp_shexp [embedding]
    let routing: ExpertRouting
    let expertCount: Int
    /// The file's experts per token; `expertsUsed` may be set lower or higher per run.
    let defaultExpertsUsed: Int
    var expertsUsed: Int
    private(set) var statistics: ExpertLayerStatistics
    private let scratch: ExpertScratch

    init(prefix p: String, source: TensorSource, shape h: Hyperparameters, routing: ExpertRouting) throws {
        let d = h.embeddingSize, f = h.expertFeedForwardSize, n = h.expertCount
        router = try source.linear(p + "ffn_gate_inp.weight", inputs: d, outputs: n)
        experts = try ExpertBank(prefix: p, source: source, embedding: d, hidden: f, count: n)
        switch routing.sharedExpert {
        case .none:
            (shared, sharedGate) = (nil, nil)
        case .sigmoidGated:
            let fs = h.sharedExpertFeedForwardSize > 0 ? h.sharedExpertFeedForwardSize : h.feedForwardSize
            shared = SwiGLU(gate: try source.linear(p + "ffn_gate_shexp.weight", inputs: d, outputs: fs),
                            up: try source.linear(p + "ffn_up_shexp.weight", inputs: d, outputs: fs),
                            down: try source.linear(p + "ffn_down_shexp.weight", inputs: fs, outputs: d))
            sharedGate = try source.vector(p + "ffn_gate_inp_shexp.weight", count: d)
        }
        self.routing = routing
        expertCount = n
        defaultExpertsUsed = h.expertsUsed
        expertsUsed = h.expertsUsed
        statistics = ExpertLayerStatistics(expertCount: n)
        scratch = source.expertScratch.scratch(width: d, hidden: f, experts: n)
    }

    /// Width of the largest intermediate activation (an expert's or the shared one's).
    var hiddenSize: Int { max(experts.hiddenSize, shared?.hiddenSize ?? 0) }

    /// Bytes of weights one token reads: router, k experts, shared expert.
    var activeByteCount: Int {
        let sharedBytes = shared.map { $0.gate.byteCount + $0.up.byteCount + $0.down.byteCount } ?? 0
        return router.byteCount + expertsUsed * experts.bytesPerExpert + sharedBytes
    }

    /// Bytes of the working memory this layer shares with the model's other MoE layers.
    var sharedScratchBytes: Int { scratch.byteCount }

    func resetStatistics() { statistics.reset() }

    /// y[m × embedding] = Σ_e w_e · expert_e(x) (+ shared expert) for each row of x.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>,
               gateBuffer: UnsafeMutablePointer<Float>, upBuffer: UnsafeMutablePointer<Float>,
               compute: ComputeContext) throws {
        let d = scratch.width
        scratch.reserve(rows: m)
        // Router: one logit per expert per token, then the top-k choice.
        try router.apply(x, rows: m, into: scratch.logits, compute: compute)
        let choices = (0..<m).map { t in route(scratch.logits + t * expertCount) }
        // Experts: each chosen expert reads its weights once for all its tokens.
        scratch.group(choices)
        try runExperts(x, rows: m, compute: compute)
        y.initialize(repeating: 0, count: m * d)
        for slot in 0..<scratch.slotStart[expertCount] {
            axpy(scratch.slotWeight[slot], scratch.down + slot * d, into: y + scratch.slotRow[slot] * d, count: d)
        }
        // Shared expert, scaled per token by its sigmoid gate.
        if let shared, let sharedGate {
            try shared.apply(x, rows: m, into: scratch.expertOutput, gateBuffer: gateBuffer, upBuffer: upBuffer,
                             compute: compute)
            sharedGate.withUnsafeBufferPointer { g in
                for t in 0..<m {
                    let gate = 1 / (1 + exp(-dotProduct(g.baseAddress!, x + t * d, count: d)))
                    axpy(gate, scratch.expertOutput + t * d, into: y + t * d, count: d)
                }
            }
        }
    }

    /// Every chosen expert's SwiGLU on the tokens routed to it, slot by slot
    /// into `scratch.down`: the gate and up products of all of them in one
    /// pass of the threads, then all the down products in another
    /// (`MatmulContext.expertProducts`), so a layer costs two rounds of
    /// synchronisation however many experts a token picks. Each expert's
    /// tokens are picked straight out of x (its slots' rows), and one
    /// decoded token's row is quantized once for all its experts. The lists
    /// of products and inputs live in the scratch, so a decode step builds
    /// them without allocating, and its passes reuse their plans.
    private func runExperts(_ x: UnsafePointer<Float>, rows m: Int, compute: ComputeContext) throws {
        let d = scratch.width, f = scratch.hidden
        let active = scratch.activeExperts()
        scratch.inputs.removeAll(keepingCapacity: true)
        scratch.products.removeAll(keepingCapacity: true)
        if m == 1 { scratch.inputs.append(.init(base: x, count: 1)) }
        var activation = Architecture.Activation.silu
        for e in active {
            let expert = experts.expert(e, pool: compute.pool)   // repacked on first use
            let slots = scratch.slots(of: e)
            if m > 1 { scratch.inputs.append(.init(base: x, rows: UnsafePointer(scratch.slotRow + slots.lowerBound), count: slots.count)) }
            let input = scratch.inputs.count - 1
            scratch.products.append(.init(expert.gate.product(into: scratch.gate + slots.lowerBound * f), input: input))
            scratch.products.append(.init(expert.up.product(into: scratch.up + slots.lowerBound * f), input: input))
            activation = expert.activation
        }
        try compute.matmul.expertProducts(scratch.products, inputs: scratch.inputs, columns: d, arena: scratch.arena)
        let slotCount = scratch.slotStart[expertCount]
        switch activation {
        case .silu: siluMultiply(scratch.gate, scratch.up, count: slotCount * f)
        case .geluTanh: geluMultiply(scratch.gate, scratch.up, count: slotCount * f)
        }
        scratch.inputs.removeAll(keepingCapacity: true)
        scratch.products.removeAll(keepingCapacity: true)
        for (i, e) in active.enumerated() {
            let first = scratch.slotStart[e]
            scratch.inputs.append(.init(base: scratch.gate + first * f, count: scratch.slots(of: e).count))
            scratch.products.append(.init(experts.experts[e].down.product(into: scratch.down + first * d), input: i))
        }
        try compute.matmul.expertProducts(scratch.products, inputs: scratch.inputs, columns: f, arena: scratch.arena)
    }

    /// The routing of one token, recorded in the statistics.
    private func route(_ logits: UnsafePointer<Float>) -> ExpertChoice {
        let choice = routing.route(logits, count: expertCount, k: expertsUsed, probabilities: scratch.probabilities)
        statistics.record(choice, entropy: entropy(scratch.probabilities, count: expertCount))
        return choice
    }
}

extension Linear {
    /// This matrix as one product of a group, writing to `output`.
    func product(into output: UnsafeMutablePointer<Float>) -> MatmulContext.MatrixProduct {
        MatmulContext.MatrixProduct(weights: data, type: type, rows: outputs, output: output, layout: layout)
    }
}

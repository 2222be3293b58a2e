import Foundation

/// How a family's router turns its logits into expert choices and weights,
/// as data. The MoE families differ only in these values; the forward pass
/// never asks which family it runs.
public struct ExpertRouting: Sendable, Equatable {
    /// The function that turns router logits into selection scores.
    public enum Gate: Sendable, Equatable {
        /// softmax over all experts, then top-k of the probabilities (Mixtral, OLMoE, Qwen).
        case softmax
        /// top-k of the raw logits, then softmax over the k chosen only
        /// (ggml's "softmax_weight").
        case softmaxOverSelected
        /// An independent sigmoid per expert (DeepSeek-V3 style routers).
        case sigmoid
    }

    /// What sits beside the routed experts.
    public enum SharedExpert: Sendable, Equatable {
        case none
        /// One always-on SwiGLU (`ffn_*_shexp`) whose output is scaled by
        /// sigmoid(`ffn_gate_inp_shexp` · x) per token (Qwen2-MoE).
        case sigmoidGated
    }

    public var gate: Gate
    /// Divide the k selected weights by their sum, so they add to one.
    public var normalizesSelected: Bool
    /// Multiplies the final weights (`<arch>.expert_weights_scale`; 1 when absent).
    public var weightScale: Float
    public var sharedExpert: SharedExpert

    public init(gate: Gate = .softmax, normalizesSelected: Bool, weightScale: Float = 1,
                sharedExpert: SharedExpert = .none) {
        self.gate = gate
        self.normalizesSelected = normalizesSelected
        self.weightScale = weightScale
        self.sharedExpert = sharedExpert
    }

    // The four families, as llama.cpp's graph builders pass them to build_moe_ffn.
    /// Mixtral (a `llama` file with experts): softmax, top-k, renormalise.
    public static let mixtral = ExpertRouting(normalizesSelected: true)
    /// OLMoE: softmax, top-k, and the trap — the k weights are NOT renormalised.
    public static let olmoe = ExpertRouting(normalizesSelected: false)
    /// Qwen2-MoE: no renormalisation, plus a sigmoid-gated shared expert.
    public static let qwen2MoE = ExpertRouting(normalizesSelected: false, sharedExpert: .sigmoidGated)
    /// Qwen3-MoE: renormalised like Mixtral; its trap is per-head q/k norms (attention side).
    public static let qwen3MoE = ExpertRouting(normalizesSelected: true)

    /// The routing with any keys the file sets explicitly taking precedence
    /// over the family's defaults.
    func applying(_ h: Hyperparameters) throws -> ExpertRouting {
        var r = self
        if let norm = h.expertWeightsNormalized { r.normalizesSelected = norm }
        if let scale = h.expertWeightsScale, scale != 0 { r.weightScale = scale }
        if let code = h.expertGatingFunction {
            // llama.cpp's llama_expert_gating_func_type numbering.
            switch code {
            case 1: r.gate = .softmax
            case 2: r.gate = .sigmoid
            case 3: r.gate = .softmaxOverSelected
            default:
                throw InferenceError.badHyperparameter("\(h.architecture).expert_gating_func",
                                                       "\(code) is not 1 (softmax), 2 (sigmoid) or 3 (softmax over selected)")
            }
        }
        return r
    }
}

/// The experts one token goes to and the weight of each, in order of
/// decreasing score.
struct ExpertChoice: Equatable {
    var experts: [Int]
    var weights: [Float]
}

extension ExpertRouting {
    /// Picks the top `k` of `count` router logits and weighs them.
    ///
    /// Ties go to the lower expert index, so routing is deterministic.
    /// `probabilities` (count values) receives the full distribution the
    /// router defines, for the entropy statistic.
    func route(_ logits: UnsafePointer<Float>, count: Int, k: Int,
               probabilities: UnsafeMutablePointer<Float>) -> ExpertChoice {
        scores(logits, count: count, into: probabilities)
        let selectBy: UnsafePointer<Float> = gate == .softmaxOverSelected ? logits : UnsafePointer(probabilities)
        let experts = topK(selectBy, count: count, k: k)
        var weights: [Float]
        switch gate {
        case .softmax, .sigmoid:
            weights = experts.map { probabilities[$0] }
        case .softmaxOverSelected:
            weights = softmaxOfSelected(experts.map { logits[$0] })
        }
        if normalizesSelected {
            let sum = weights.reduce(0, +)
            // llama.cpp clamps the sum away from zero (sigmoid routers can give tiny sums).
            let divisor = max(sum, 6.103515625e-5)
            weights = weights.map { $0 / divisor }
        }
        if weightScale != 1 { weights = weights.map { $0 * weightScale } }
        return ExpertChoice(experts: experts, weights: weights)
    }

    /// The router's distribution over all experts (sigmoid scores are
    /// independent and need not sum to one).
    private func scores(_ logits: UnsafePointer<Float>, count: Int, into p: UnsafeMutablePointer<Float>) {
        switch gate {
        case .softmax, .softmaxOverSelected:
            p.update(from: logits, count: count)
            softmaxInPlace(p, count: count)
        case .sigmoid:
            for i in 0..<count { p[i] = 1 / (1 + exp(-logits[i])) }
        }
    }
}

/// Indices of the `k` largest of `count` values, largest first; ties go to
/// the lower index. A partial insertion sort: k is small (≤ 8 in practice).
func topK(_ values: UnsafePointer<Float>, count: Int, k: Int) -> [Int] {
    let k = min(k, count)
    guard k > 0 else { return [] }
    var best: [Int] = []
    best.reserveCapacity(k + 1)
    for i in 0..<count {
        let v = values[i]
        // Strictly greater: an equal later value never displaces an earlier one.
        guard best.count < k || v > values[best[k - 1]] else { continue }
        var slot = best.count
        while slot > 0, v > values[best[slot - 1]] { slot -= 1 }
        best.insert(i, at: slot)
        if best.count > k { best.removeLast() }
    }
    return best
}

/// softmax of a short array (the k selected logits).
func softmaxOfSelected(_ x: [Float]) -> [Float] {
    guard let m = x.max() else { return [] }
    let e = x.map { exp($0 - m) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
}

/// Shannon entropy in nats of a distribution given as non-negative scores
/// (normalised here, so sigmoid scores work too).
func entropy(_ p: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    for i in 0..<count { total += Double(p[i]) }
    guard total > 0 else { return 0 }
    var h = 0.0
    for i in 0..<count where p[i] > 0 {
        let q = Double(p[i]) / total
        h -= q * log(q)
    }
    return h
}

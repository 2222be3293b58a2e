import Foundation
import GGUF
import TestSupport

/// The MoE families' forward pass written plainly in Double from the papers
/// and model cards, as an oracle for the engine on tiny F32 models: the
/// Llama block plus RoPE halves, biases, q/k norms, and a router that picks
/// the top k experts by softmax probability.
///
/// Its routing is described here, independently of the engine's
/// `ExpertRouting`, so a wrong family table in the engine shows up.
struct MoEReference: ReferenceMath {
    struct Family {
        /// NeoX-style RoPE: dimension i turns with i + size/2 (Qwen, OLMoE) instead of 2i with 2i+1.
        var ropeHalves: Bool
        /// The k selected probabilities are divided by their sum (Mixtral, Qwen3-MoE).
        var renormalize: Bool
    }

    let file: GGUFFile
    let model: SyntheticModel
    let family: Family
    /// Experts per token (the file's unless a test overrides it).
    var k: Int

    init(file: GGUFFile, model: SyntheticModel, family: Family, k: Int? = nil) {
        self.file = file
        self.model = model
        self.family = family
        self.k = k ?? model.expertsUsed
    }

    /// Projection, bias, then the q/k norm (per head or whole), then RoPE.
    func project(_ x: [Double], _ kind: String, layer p: String, heads: Int, position: Int, rotate: Bool) -> [Double] {
        var y = multiply(matrix(p + "attn_\(kind).weight"), x)
        if has(p + "attn_\(kind).bias") { y = zip(y, vector(p + "attn_\(kind).bias")).map(+) }
        if kind != "v", has(p + "attn_\(kind)_norm.weight") {
            let w = vector(p + "attn_\(kind)_norm.weight")
            let size = w.count
            y = (0..<(y.count / size)).flatMap { h in rmsNorm(Array(y[(h * size)..<((h + 1) * size)]), w) }
        }
        return rotate ? rope(y, heads: heads, position: position, halves: family.ropeHalves) : y
    }

    func swiglu(_ x: [Double], gate: [[Double]], up: [[Double]], down: [[Double]]) -> [Double] {
        let hidden = zip(multiply(gate, x), multiply(up, x)).map { g, u in g / (1 + exp(-g)) * u }
        return multiply(down, hidden)
    }

    /// softmax over all experts → top k → (renormalise) → weighted sum of experts,
    /// plus the sigmoid-gated shared expert where the file has one.
    func moe(_ x: [Double], layer p: String) -> [Double] {
        let logits = multiply(matrix(p + "ffn_gate_inp.weight"), x)
        let m = logits.max()!
        let e = logits.map { exp($0 - m) }
        let probs = e.map { $0 / e.reduce(0, +) }
        let chosen = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }.prefix(k)
        let total = chosen.reduce(0) { $0 + probs[$1] }
        var y = [Double](repeating: 0, count: x.count)
        for expert in chosen {
            let w = family.renormalize ? probs[expert] / total : probs[expert]
            let out = swiglu(x, gate: matrix(p + "ffn_gate_exps.weight", slice: expert),
                             up: matrix(p + "ffn_up_exps.weight", slice: expert),
                             down: matrix(p + "ffn_down_exps.weight", slice: expert))
            y = zip(y, out).map { $0 + w * $1 }
        }
        if has(p + "ffn_gate_inp_shexp.weight") {
            let g = zip(vector(p + "ffn_gate_inp_shexp.weight"), x).reduce(0) { $0 + $1.0 * $1.1 }
            let out = swiglu(x, gate: matrix(p + "ffn_gate_shexp.weight"), up: matrix(p + "ffn_up_shexp.weight"),
                             down: matrix(p + "ffn_down_shexp.weight"))
            y = zip(y, out).map { $0 + $1 / (1 + exp(-g)) }
        }
        return y
    }

    /// Logits after every token of `tokens`.
    func logits(_ tokens: [Int32]) -> [[Double]] {
        let embed = matrix("token_embd.weight")
        var x = tokens.map { embed[Int($0)] }
        for l in 0..<model.layers {
            let p = "blk.\(l)."
            let normed = x.map { rmsNorm($0, vector(p + "attn_norm.weight")) }
            let q = normed.enumerated().map { project($1, "q", layer: p, heads: model.heads, position: $0, rotate: true) }
            let k = normed.enumerated().map { project($1, "k", layer: p, heads: model.kvHeads, position: $0, rotate: true) }
            let v = normed.enumerated().map { project($1, "v", layer: p, heads: model.kvHeads, position: $0, rotate: false) }
            let wo = matrix(p + "attn_output.weight")
            for t in 0..<x.count {
                x[t] = zip(x[t], multiply(wo, causalAttention(q: q, k: k, v: v, token: t))).map(+)
            }
            x = x.map { row in zip(row, moe(rmsNorm(row, vector(p + "ffn_norm.weight")), layer: p)).map(+) }
        }
        let out = matrix(has("output.weight") ? "output.weight" : "token_embd.weight")
        return x.map { multiply(out, rmsNorm($0, vector("output_norm.weight"))) }
    }
}

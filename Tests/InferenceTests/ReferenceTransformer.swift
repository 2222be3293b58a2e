import Foundation
import GGUF
import TestSupport

/// The Llama forward pass written as plainly as possible, in Double, from
/// the paper's equations — an oracle for the engine on tiny F32 models. It
/// recomputes everything for the whole prefix at every call.
struct ReferenceTransformer: ReferenceMath {
    let file: GGUFFile
    let model: SyntheticModel

    /// Logits after every token of `tokens`.
    func logits(_ tokens: [Int32]) -> [[Double]] {
        let embed = matrix("token_embd.weight")
        var x = tokens.map { embed[Int($0)] }
        for l in 0..<model.layers {
            let p = "blk.\(l)."
            let (wq, wk, wv, wo) = (matrix(p + "attn_q.weight"), matrix(p + "attn_k.weight"),
                                    matrix(p + "attn_v.weight"), matrix(p + "attn_output.weight"))
            let normed = x.map { rmsNorm($0, vector(p + "attn_norm.weight")) }
            let q = normed.enumerated().map { rope(multiply(wq, $1), heads: model.heads, position: $0, halves: false) }
            let k = normed.enumerated().map { rope(multiply(wk, $1), heads: model.kvHeads, position: $0, halves: false) }
            let v = normed.map { multiply(wv, $0) }
            for t in 0..<x.count {
                x[t] = zip(x[t], multiply(wo, causalAttention(q: q, k: k, v: v, token: t))).map(+)
            }
            let (wg, wu, wd) = (matrix(p + "ffn_gate.weight"), matrix(p + "ffn_up.weight"), matrix(p + "ffn_down.weight"))
            x = x.map { row in
                let n = rmsNorm(row, vector(p + "ffn_norm.weight"))
                let hidden = zip(multiply(wg, n), multiply(wu, n)).map { g, u in g / (1 + exp(-g)) * u }
                return zip(row, multiply(wd, hidden)).map(+)
            }
        }
        let out = matrix(file.tensor(named: "output.weight") != nil ? "output.weight" : "token_embd.weight")
        return x.map { multiply(out, rmsNorm($0, vector("output_norm.weight"))) }
    }
}

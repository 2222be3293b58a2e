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
        let size = model.headSize, group = model.heads / model.kvHeads
        for l in 0..<model.layers {
            let p = "blk.\(l)."
            let (wq, wk, wv, wo) = (matrix(p + "attn_q.weight"), matrix(p + "attn_k.weight"),
                                    matrix(p + "attn_v.weight"), matrix(p + "attn_output.weight"))
            let normed = x.map { rmsNorm($0, vector(p + "attn_norm.weight")) }
            let q = normed.enumerated().map { rope(multiply(wq, $1), heads: model.heads, position: $0, halves: false) }
            let k = normed.enumerated().map { rope(multiply(wk, $1), heads: model.kvHeads, position: $0, halves: false) }
            let v = normed.map { multiply(wv, $0) }
            for t in 0..<x.count {
                var attended = [Double](repeating: 0, count: model.heads * size)
                for h in 0..<model.heads {
                    let kvh = h / group
                    let qh = Array(q[t][(h * size)..<((h + 1) * size)])
                    let scores = (0...t).map { j in
                        zip(qh, k[j][(kvh * size)..<((kvh + 1) * size)]).reduce(0) { $0 + $1.0 * $1.1 } / Double(size).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +)
                    for j in 0...t {
                        for i in 0..<size { attended[h * size + i] += e[j] / total * v[j][kvh * size + i] }
                    }
                }
                x[t] = zip(x[t], multiply(wo, attended)).map(+)
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

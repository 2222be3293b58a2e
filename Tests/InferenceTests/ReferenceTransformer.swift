import Foundation
import GGUF
import TestSupport

/// The Llama forward pass written as plainly as possible, in Double, from
/// the paper's equations — an oracle for the engine on tiny F32 models. It
/// recomputes everything for the whole prefix at every call.
struct ReferenceTransformer {
    let file: GGUFFile
    let model: SyntheticModel

    func matrix(_ name: String) -> [[Double]] {
        let t = file.tensor(named: name)!
        let floats = Array(file.data(of: t).bindMemory(to: Float.self))
        let (cols, rows) = (t.shape[0], t.elementCount / t.shape[0])
        return (0..<rows).map { r in (0..<cols).map { Double(floats[r * cols + $0]) } }
    }

    func vector(_ name: String) -> [Double] { matrix(name)[0] }

    func multiply(_ w: [[Double]], _ x: [Double]) -> [Double] {
        w.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } }
    }

    func rmsNorm(_ x: [Double], _ w: [Double]) -> [Double] {
        let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(model.rmsEpsilon)).squareRoot()
        return zip(x, w).map { $0 * scale * $1 }
    }

    /// Interleaved RoPE on each head: pairs (2i, 2i+1) turn by pos·base^(−2i/d).
    func rope(_ x: [Double], heads: Int, position: Int) -> [Double] {
        var y = x
        let size = model.headSize
        for h in 0..<heads {
            for i in 0..<(size / 2) {
                let theta = Double(position) * pow(Double(model.ropeBase), -2 * Double(i) / Double(size))
                let (a, b) = (h * size + 2 * i, h * size + 2 * i + 1)
                y[a] = x[a] * cos(theta) - x[b] * sin(theta)
                y[b] = x[a] * sin(theta) + x[b] * cos(theta)
            }
        }
        return y
    }

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
            let q = normed.enumerated().map { rope(multiply(wq, $1), heads: model.heads, position: $0) }
            let k = normed.enumerated().map { rope(multiply(wk, $1), heads: model.kvHeads, position: $0) }
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

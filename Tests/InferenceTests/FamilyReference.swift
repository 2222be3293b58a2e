import Foundation
import GGUF
import TestSupport

/// The dense families beyond Llama written out plainly in Double — Gemma 2
/// and 3, Phi-3, Llama 3.1 — from the papers and model cards, independently
/// of the engine's `Architecture` table: each family's facts are spelled out
/// in its factory below. Recomputes the whole prefix at every call.
struct FamilyReference: ReferenceMath {
    let file: GGUFFile
    let model: SyntheticModel
    var geglu = false                   // gelu(gate)·up instead of silu(gate)·up
    var embeddingScale = 1.0            // √d for Gemma
    var window = 0                      // sliding window (positions, the current one included)
    var slides: (Int) -> Bool = { _ in false }
    var globalBase = 10_000.0, globalScale = 1.0
    var localBase = 10_000.0, localScale = 1.0
    var factors: [Double]? = nil        // per-pair RoPE divisors
    var magnitude = 1.0                 // cos/sin multiplier
    var attentionCap: Double? = nil
    var finalCap: Double? = nil

    static func gemma3(_ file: GGUFFile, _ model: SyntheticModel) -> FamilyReference {
        var r = FamilyReference(file: file, model: model)
        r.geglu = true
        r.embeddingScale = Double(model.embedding).squareRoot()
        r.window = 4
        r.slides = { $0 % 6 != 5 }                  // five local layers, then one global
        (r.globalBase, r.globalScale) = (Double(model.ropeBase), 1.0 / 8)
        (r.localBase, r.localScale) = (10_000, 1)   // local layers: base 10⁴, unscaled
        return r
    }

    static func gemma2(_ file: GGUFFile, _ model: SyntheticModel, attentionCap: Double?, finalCap: Double?) -> FamilyReference {
        var r = FamilyReference(file: file, model: model)
        r.geglu = true
        r.embeddingScale = Double(model.embedding).squareRoot()
        r.window = 4
        r.slides = { $0 % 2 == 0 }                  // local, global, local, global
        (r.globalBase, r.localBase) = (Double(model.ropeBase), Double(model.ropeBase))
        (r.attentionCap, r.finalCap) = (attentionCap, finalCap)
        return r
    }

    static func phi3(_ file: GGUFFile, _ model: SyntheticModel) -> FamilyReference {
        var r = FamilyReference(file: file, model: model)
        r.factors = [1.0, 1.5, 2.0, 3.0, 3.5, 4.0]  // the long factors: context 256 > 32
        r.magnitude = Double(Float(1.1))
        return r
    }

    /// Logits after every token of `tokens`.
    func logits(_ tokens: [Int32], halves: Bool = true) -> [[Double]] {
        let embed = matrix("token_embd.weight")
        var x = tokens.map { embed[Int($0)].map { $0 * embeddingScale } }
        for l in 0..<model.layers {
            let p = "blk.\(l)."
            let attended = attention(layer: l, x.map { rmsNorm($0, vector(p + "attn_norm.weight")) }, halves: halves)
            let wo = matrix(p + "attn_output.weight")
            for t in x.indices { x[t] = zip(x[t], post(p + "post_attention_norm.weight", multiply(wo, attended[t]))).map(+) }
            x = x.map { row in zip(row, post(p + "post_ffw_norm.weight", feedForward(p, rmsNorm(row, vector(p + "ffn_norm.weight"))))).map(+) }
        }
        let out = matrix(has("output.weight") ? "output.weight" : "token_embd.weight")
        return x.map { row in
            let z = multiply(out, rmsNorm(row, vector("output_norm.weight")))
            return finalCap.map { c in z.map { c * tanh($0 / c) } } ?? z
        }
    }

    private func post(_ name: String, _ y: [Double]) -> [Double] { has(name) ? rmsNorm(y, vector(name)) : y }

    /// q, k, v rows: separate matrices, or consecutive row blocks of attn_qkv.
    private func projections(_ p: String) -> ([[Double]], [[Double]], [[Double]]) {
        guard has(p + "attn_qkv.weight") else {
            return (matrix(p + "attn_q.weight"), matrix(p + "attn_k.weight"), matrix(p + "attn_v.weight"))
        }
        let all = matrix(p + "attn_qkv.weight"), q = model.heads * model.headSize, kv = model.kvHeads * model.headSize
        return (Array(all[0..<q]), Array(all[q..<(q + kv)]), Array(all[(q + kv)...]))
    }

    private func attention(layer l: Int, _ normed: [[Double]], halves: Bool) -> [[Double]] {
        let p = "blk.\(l).", size = model.headSize, group = model.heads / model.kvHeads
        let (wq, wk, wv) = projections(p)
        let local = window > 0 && slides(l)
        let (base, scale) = local ? (localBase, localScale) : (globalBase, globalScale)
        func prepared(_ w: [[Double]], _ norm: String, heads: Int, _ row: [Double], _ pos: Int) -> [Double] {
            var y = multiply(w, row)
            if has(p + norm) {
                let weight = vector(p + norm)
                y = (0..<heads).flatMap { rmsNorm(Array(y[($0 * size)..<(($0 + 1) * size)]), weight) }
            }
            return rotate(y, heads: heads, position: pos, base: base, scale: scale, halves: halves)
        }
        let q = normed.enumerated().map { prepared(wq, "attn_q_norm.weight", heads: model.heads, $1, $0) }
        let k = normed.enumerated().map { prepared(wk, "attn_k_norm.weight", heads: model.kvHeads, $1, $0) }
        let v = normed.map { multiply(wv, $0) }
        return normed.indices.map { t in
            let first = local ? max(0, t - window + 1) : 0
            var out = [Double](repeating: 0, count: model.heads * size)
            for h in 0..<model.heads {
                let kvh = h / group
                let scores = (first...t).map { j -> Double in
                    let s = (0..<size).reduce(0.0) { $0 + q[t][h * size + $1] * k[j][kvh * size + $1] } / Double(size).squareRoot()
                    return attentionCap.map { c in c * tanh(s / c) } ?? s
                }
                let m = scores.max()!, e = scores.map { exp($0 - m) }, total = e.reduce(0, +)
                for (n, j) in (first...t).enumerated() {
                    for i in 0..<size { out[h * size + i] += e[n] / total * v[j][kvh * size + i] }
                }
            }
            return out
        }
    }

    /// Pair i of the first `rotatedDimensions` dims turns by
    /// scale·pos·base^(−2i/n)/factorᵢ, cos and sin times the magnitude.
    private func rotate(_ x: [Double], heads: Int, position: Int, base: Double, scale: Double, halves: Bool) -> [Double] {
        var y = x
        let size = model.headSize, n = model.rotatedDimensions
        for h in 0..<heads {
            for i in 0..<(n / 2) {
                let theta = scale * Double(position) * pow(base, -2 * Double(i) / Double(n)) / (factors?[i] ?? 1)
                let (a, b) = halves ? (h * size + i, h * size + i + n / 2) : (h * size + 2 * i, h * size + 2 * i + 1)
                y[a] = magnitude * (x[a] * cos(theta) - x[b] * sin(theta))
                y[b] = magnitude * (x[a] * sin(theta) + x[b] * cos(theta))
            }
        }
        return y
    }

    private func feedForward(_ p: String, _ n: [Double]) -> [Double] {
        let f = model.feedForward
        let (gate, up): ([Double], [Double])
        if has(p + "ffn_gate.weight") {
            (gate, up) = (multiply(matrix(p + "ffn_gate.weight"), n), multiply(matrix(p + "ffn_up.weight"), n))
        } else {
            let both = multiply(matrix(p + "ffn_up.weight"), n)   // Phi-3: gate rows, then up rows
            (gate, up) = (Array(both[0..<f]), Array(both[f...]))
        }
        let hidden = zip(gate, up).map { g, u in (geglu ? halfGELU(g) : g / (1 + exp(-g))) * u }
        return multiply(matrix(p + "ffn_down.weight"), hidden)
    }

    /// tanh-GELU with input and output rounded to half precision, the
    /// rounding of ggml's CPU table that the engine reproduces.
    private func halfGELU(_ x: Double) -> Double {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        let h = Double(Float(Float16(Float(x))))
        let g = 0.5 * h * (1 + tanh((2 / Double.pi).squareRoot() * h * (1 + 0.044715 * h * h)))
        return Double(Float(Float16(Float(g))))
    }
}

import Foundation
import GGUF
import TestSupport

/// The plain Double building blocks the reference forward passes share:
/// tensors read as rows, matrix × vector, RMSNorm and RoPE, straight from
/// their definitions.
protocol ReferenceMath {
    var file: GGUFFile { get }
    var model: SyntheticModel { get }
}

extension ReferenceMath {
    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    /// Rows of a 2-D F32 tensor, or of one matrix of a stacked 3-D one.
    func matrix(_ name: String, slice: Int = 0) -> [[Double]] {
        let t = file.tensor(named: name)!
        let floats = Array(file.data(of: t).bindMemory(to: Float.self))
        let cols = t.shape[0], rows = t.shape.count > 1 ? t.shape[1] : 1
        let base = slice * rows * cols
        return (0..<rows).map { r in (0..<cols).map { Double(floats[base + r * cols + $0]) } }
    }

    func vector(_ name: String) -> [Double] { matrix(name)[0] }

    func multiply(_ w: [[Double]], _ x: [Double]) -> [Double] {
        w.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } }
    }

    func rmsNorm(_ x: [Double], _ w: [Double]) -> [Double] {
        let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(model.rmsEpsilon)).squareRoot()
        return zip(x, w).map { $0 * scale * $1 }
    }

    /// RoPE on each head: pair i turns by pos·base^(−2i/d). Interleaved pairs
    /// are (2i, 2i+1) (GGUF's llama); halves are (i, i + d/2) (NeoX style).
    func rope(_ x: [Double], heads: Int, position: Int, halves: Bool) -> [Double] {
        var y = x
        let size = model.headSize
        for h in 0..<heads {
            for i in 0..<(size / 2) {
                let theta = Double(position) * pow(Double(model.ropeBase), -2 * Double(i) / Double(size))
                let (a, b) = halves ? (h * size + i, h * size + i + size / 2) : (h * size + 2 * i, h * size + 2 * i + 1)
                y[a] = x[a] * cos(theta) - x[b] * sin(theta)
                y[b] = x[a] * sin(theta) + x[b] * cos(theta)
            }
        }
        return y
    }

    /// Causal attention with grouped KV heads: for token t, each query head
    /// attends keys 0…t of its KV head, softmax(q·k/√d) weighting the values.
    func causalAttention(q: [[Double]], k: [[Double]], v: [[Double]], token t: Int) -> [Double] {
        let size = model.headSize, group = model.heads / model.kvHeads
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
        return attended
    }
}

import Foundation

// The non-linearities the Gemma families add: the tanh-GELU of GeGLU, and
// soft caps c·tanh(x/c) on attention scores and output logits.

/// gate = gelu(gate) ⊙ up, GELU in its tanh form, looked up the way ggml's
/// CPU backend computes it: the input rounded to half precision indexes a
/// table of half-precision results, with gelu(x) = 0 below −10 and x above
/// 10. The exact function differs from that table by up to 4e-3 relative,
/// which moves F32 logits by ~1e-3; the table keeps them within 1e-4 of
/// llama.cpp, and is as fast as a lookup.
func geluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    geluTable.withUnsafeBufferPointer { table in
        for i in 0..<count {
            let x = gate[i]
            let g: Float
            if x <= -10 {
                g = 0
            } else if x >= 10 {
                g = x
            } else {
                g = table[Int(Float16(x).bitPattern)]
            }
            gate[i] = g * up[i]
        }
    }
}

/// The tanh-approximated GELU in Float, as ggml writes it.
func geluTanh(_ x: Float) -> Float {
    let sqrtTwoOverPi: Float = 0.79788456080286535587989211986876
    let coefficient: Float = 0.044715
    return 0.5 * x * (1 + tanhf(sqrtTwoOverPi * x * (1 + coefficient * x * x)))
}

/// gelu of every half-precision value, rounded to half: 65,536 entries.
let geluTable: [Float] = (0...UInt16.max).map { bits in
    let x = Float(Float16(bitPattern: bits))
    return Float(Float16(geluTanh(x)))
}

/// x = c·tanh(x/c) in place, multiplying by the rounded 1/c as ggml does.
func softCap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
    let inverse = 1 / cap
    for i in 0..<count { x[i] = cap * tanhf(x[i] * inverse) }
}

/// One attention head whose scores are soft-capped before the softmax
/// (Gemma 2): s = c·tanh(scale·q·k / c). Kept apart from the fused kernel,
/// which no other family needs to slow down for.
func attendHeadSoftCapped(query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                          stride: Int, length: Int, size: Int, scale: Float, cap: Float,
                          scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    for j in 0..<length {
        scores[j] = dotProduct(query, keys + j * stride, count: size) * scale
    }
    softCap(scores, count: length, cap: cap)
    softmaxInPlace(scores, count: length)
    out.update(repeating: 0, count: size)
    for j in 0..<length {
        axpy(scores[j], values + j * stride, into: out, count: size)
    }
}

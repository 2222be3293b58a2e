import Foundation

/// Rotary position embedding. Which pairs of a head's dimensions rotate
/// together is the one thing that differs between families, so it is data:
/// `.interleaved` rotates (2i, 2i+1) — GGUF's llama files, whose Q/K rows the
/// converter permuted for it — and `.halves` rotates (i, i + d/2), as the
/// Qwen and OLMoE families (GPT-NeoX style) do.
public enum RopeStyle: Sendable {
    case interleaved
    case halves
}

/// The cos/sin of every rotated pair at one position, computed once per token
/// and shared by all layers and heads that rotate alike.
struct RopeAngles: Equatable {
    let dimensions: Int
    let base: Float
    let scale: Float   // linear position scaling (1 / rope.scaling.factor)
    /// Per-pair divisors of the angle: Llama 3.1's `rope_freqs`, or Phi-3's
    /// LongRoPE `rope_factors_long/short`; nil: all 1.
    var factors: [Float]? = nil
    /// Multiplies cos and sin (LongRoPE's `rope.scaling.attn_factor`).
    var magnitude: Float = 1

    /// Fills `cos` and `sin` (dimensions/2 each) for `position`.
    /// In Float and in ggml's order — the base angle advances by a constant
    /// factor per pair, is divided by the pair's factor, then scaled —
    /// because matching its rounding keeps F32 logits within 1e-4.
    func fill(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let thetaScale = powf(base, -2.0 / Float(dimensions))
        var theta = Float(position)
        for i in 0..<(dimensions / 2) {
            let angle = scale * (theta / (factors?[i] ?? 1))
            cos[i] = cosf(angle) * magnitude
            sin[i] = sinf(angle) * magnitude
            theta *= thetaScale
        }
    }
}

/// Rotates the first `dimensions` values of each of `heads` vectors of size
/// `headSize`, in place.
func applyRope(
    _ x: UnsafeMutablePointer<Float>, heads: Int, headSize: Int, dimensions: Int,
    style: RopeStyle, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
) {
    let half = dimensions / 2
    for h in 0..<heads {
        let v = x + h * headSize
        for i in 0..<half {
            let (a, b) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
            let x0 = v[a], x1 = v[b]
            v[a] = x0 * cos[i] - x1 * sin[i]
            v[b] = x0 * sin[i] + x1 * cos[i]
        }
    }
}

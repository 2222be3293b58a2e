import CKernels

/// Float vector operations the model runs between matrix products. They use
/// AVX2 when the CPU has it. Pointers must hold `count` floats; outputs may
/// alias inputs (every element is read before it is written).
public enum VectorOps {
    /// Σ x[i]·y[i]
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        moe_vec_dot_f32(x, y, Int64(count))
    }

    /// y += a·x (attention's weighted sum of values).
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        moe_vec_axpy_f32(a, x, y, Int64(count))
    }

    /// z = x ⊙ y
    @inline(__always)
    public static func multiply(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                into z: UnsafeMutablePointer<Float>, count: Int) {
        moe_vec_mul_f32(x, y, z, Int64(count))
    }

    /// z = x + y (residual connections).
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                           into z: UnsafeMutablePointer<Float>, count: Int) {
        moe_vec_add_f32(x, y, z, Int64(count))
    }

    /// x *= a
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
        moe_vec_scale_f32(a, x, Int64(count))
    }

    /// y = x / √(mean(x²) + eps) ⊙ weight (no weight: plain normalisation).
    @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, epsilon: Float,
                               into y: UnsafeMutablePointer<Float>, count: Int) {
        moe_vec_rms_norm_f32(x, weight, y, Int64(count), epsilon)
    }

    /// z = silu(gate) ⊙ up, the SwiGLU feed-forward activation.
    @inline(__always)
    public static func siluMultiply(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                    into z: UnsafeMutablePointer<Float>, count: Int) {
        moe_vec_silu_mul_f32(gate, up, z, Int64(count))
    }

    /// One attention head over `length` cached positions: out = Σⱼ pⱼ·vⱼ with
    /// p = softmax(scale · q·kⱼ); key/value rows are `stride` floats apart and
    /// `scores` is scratch for `length` floats.
    @inline(__always)
    public static func attendHead(query: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                                  values: UnsafePointer<Float>, stride: Int, length: Int, size: Int,
                                  scale: Float, scores: UnsafeMutablePointer<Float>,
                                  into out: UnsafeMutablePointer<Float>) {
        moe_attend_head_f32(query, keys, values, stride, Int64(length), Int64(size), scale, scores, out)
    }

    /// x = softmax(x), in place, stable for large logits. Returns Σ exp(x - max).
    @discardableResult @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
        moe_vec_softmax_f32(x, Int64(count))
    }
}

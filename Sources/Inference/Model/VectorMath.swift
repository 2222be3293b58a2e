import Kernels

// Thin names for the kernel library's vector operations, so the forward
// pass reads like the paper.

func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: [Float], epsilon: Float,
             into y: UnsafeMutablePointer<Float>) {
    weight.withUnsafeBufferPointer { w in
        for r in 0..<rows {
            VectorOps.rmsNorm(x + r * width, weight: w.baseAddress, epsilon: epsilon, into: y + r * width, count: width)
        }
    }
}

func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    VectorOps.add(x, y, into: y, count: count)
}

func add(_ x: [Float], into y: UnsafeMutablePointer<Float>, count: Int) {
    x.withUnsafeBufferPointer { add($0.baseAddress!, into: y, count: count) }
}

func siluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    VectorOps.siluMultiply(gate: gate, up: up, into: gate, count: count)
}

func dotProduct(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    VectorOps.dot(x, y, count: count)
}

func axpy(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    VectorOps.axpy(a, x, y, count: count)
}

func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    VectorOps.softmax(x, count: count)
}

func attendHead(query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                stride: Int, length: Int, size: Int, scale: Float,
                scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    VectorOps.attendHead(query: query, keys: keys, values: values, stride: stride, length: length, size: size,
                         scale: scale, scores: scores, into: out)
}

func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
    VectorOps.scale(x, by: a, count: count)
}

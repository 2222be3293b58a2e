import Foundation
import Testing
@testable import Kernels

/// One attention head against a double-precision softmax(q·Kᵀ·scale)·V, for
/// head sizes on every path (the fully unrolled 64, a multiple of 8, one
/// that is not) and cached lengths from 1 up.
@Suite("Attention head")
struct AttentionTests {
    @Test("attendHead matches a double-precision reference", arguments: [(64, 37), (16, 5), (128, 70), (12, 9), (64, 1)])
    func matchesReference(size: Int, length: Int) {
        var rng = SeededGenerator(seed: UInt64(size * 1000 + length))
        let stride = size * 3 + 8  // rows of a wider cache, as with several kv heads
        let q = randomFloats(size, &rng, scale: 2)
        let keys = randomFloats(stride * length, &rng), values = randomFloats(stride * length, &rng)
        let scale = 1 / Float(size).squareRoot()
        var scores = [Float](repeating: .nan, count: length)
        var out = [Float](repeating: .nan, count: size)
        VectorOps.attendHead(query: q, keys: keys, values: values, stride: stride, length: length, size: size,
                             scale: scale, scores: &scores, into: &out)

        let logits = (0..<length).map { j in
            (0..<size).reduce(0.0) { $0 + Double(q[$1]) * Double(keys[j * stride + $1]) } * Double(scale)
        }
        let top = logits.max()!
        let weights = logits.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        for d in 0..<size {
            let expected = (0..<length).reduce(0.0) { $0 + weights[$1] / total * Double(values[$1 * stride + d]) }
            #expect(abs(Double(out[d]) - expected) <= 1e-5, "size \(size), length \(length), value \(d)")
        }
    }
}

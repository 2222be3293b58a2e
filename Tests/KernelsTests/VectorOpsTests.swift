import Foundation
import Testing
@testable import Kernels

@Suite("Vector operations")
struct VectorOpsTests {
    private let count = 203  // not a multiple of the vector width
    private func close(_ a: [Float], _ b: [Double], relative: Double = 1e-5) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= relative * max(1, abs($1)) }
    }

    @Test("dot, axpy, multiply, add and scale match plain loops")
    func elementwise() {
        var rng = SeededGenerator(seed: 10)
        let x = randomFloats(count, &rng), y = randomFloats(count, &rng)
        let dot = VectorOps.dot(x, y, count: count)
        #expect(abs(Double(dot) - zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }) < 1e-4)
        var z = y
        VectorOps.axpy(0.5, x, &z, count: count)
        #expect(close(z, zip(x, y).map { 0.5 * Double($0) + Double($1) }))
        var product = [Float](repeating: 0, count: count), sum = product
        VectorOps.multiply(x, y, into: &product, count: count)
        VectorOps.add(x, y, into: &sum, count: count)
        #expect(product == zip(x, y).map { $0 * $1 })
        #expect(sum == zip(x, y).map { $0 + $1 })
        var scaled = x
        VectorOps.scale(&scaled, by: 3, count: count)
        #expect(scaled == x.map { $0 * 3 })
    }

    @Test("rmsNorm divides by the root mean square and applies the weight")
    func rmsNorm() {
        var rng = SeededGenerator(seed: 11)
        let x = randomFloats(count, &rng, scale: 4), w = randomFloats(count, &rng)
        let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(count) + 1e-5).squareRoot()
        var y = [Float](repeating: 0, count: count)
        VectorOps.rmsNorm(x, weight: w, epsilon: 1e-5, into: &y, count: count)
        #expect(close(y, zip(x, w).map { Double($0) / rms * Double($1) }))
        var plain = [Float](repeating: 0, count: count)
        VectorOps.rmsNorm(x, weight: nil, epsilon: 1e-5, into: &plain, count: count)
        #expect(close(plain, x.map { Double($0) / rms }))
    }

    @Test("siluMultiply is g·sigmoid(g)·u")
    func swiglu() {
        var rng = SeededGenerator(seed: 12)
        let g = randomFloats(count, &rng, scale: 8), u = randomFloats(count, &rng)
        var z = [Float](repeating: 0, count: count)
        VectorOps.siluMultiply(gate: g, up: u, into: &z, count: count)
        #expect(close(z, zip(g, u).map { Double($0) / (1 + Foundation.exp(-Double($0))) * Double($1) }))
    }

    @Test("siluMultiply stays accurate from -100 to 100 (the vector exp's whole range)")
    func swigluRange() {
        let g = stride(from: -100.0, through: 100.0, by: 0.037).map { Float($0) }
        let u = [Float](repeating: 1, count: g.count)
        var z = [Float](repeating: 0, count: g.count)
        VectorOps.siluMultiply(gate: g, up: u, into: &z, count: g.count)
        for (value, x) in zip(z, g) {
            let exact = Double(x) / (1 + Foundation.exp(-Double(x)))
            #expect(abs(Double(value) - exact) <= 1e-6 * max(1e-30, abs(exact)) + 1e-37, "x = \(x)")
        }
    }

    @Test("softmax of a long row with masked (-inf) entries matches double precision")
    func softmaxLong() {
        var rng = SeededGenerator(seed: 13)
        var x = randomFloats(1001, &rng, scale: 30)
        for i in stride(from: 0, to: x.count, by: 7) { x[i] = -.infinity }
        let m = Double(x.max()!)
        let e = x.map { Foundation.exp(Double($0) - m) }
        let total = e.reduce(0, +)
        VectorOps.softmax(&x, count: x.count)
        #expect(close(x, e.map { $0 / total }, relative: 1e-6))
        #expect(stride(from: 0, to: x.count, by: 7).allSatisfy { x[$0] == 0 })
    }

    @Test("softmax sums to one and survives large logits")
    func softmax() {
        var x: [Float] = [1000, 999, 998, -1000]
        VectorOps.softmax(&x, count: 4)
        let e = [1.0, Foundation.exp(-1.0), Foundation.exp(-2.0), 0]
        let total = e.reduce(0, +)
        #expect(close(x, e.map { $0 / total }))
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
    }
}

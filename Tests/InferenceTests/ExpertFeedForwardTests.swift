import Foundation
import GGUF
import Testing
import TestSupport
@testable import Inference

/// One MoE layer (`ExpertFeedForward.apply`: every chosen expert's gate/up
/// in one pass of the threads, then every down product) against the plain
/// Double reference, token by token, at both extremes of routing: every
/// token to one expert, and tokens spread over the experts (and every token
/// to every expert, and one decoded token).
@Suite("MoE layer against the plain reference, dense and spread routing")
struct ExpertFeedForwardTests {
    enum Routing: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case oneExpert = "all tokens to one expert"
        case spread = "tokens spread over the experts"
        case everyExpert = "every token to every expert"
        case decode = "one decoded token"
        var testDescription: String { rawValue }
    }

    static let shapes: [(experts: Int, used: Int)] = [(8, 2), (64, 8)]

    @Test("F32 tiny MoE, 8×top-2 and 64×top-8, 1 and 2 threads",
          arguments: Routing.allCases, [0, 1])
    func matchesReference(routing: Routing, shapeIndex: Int) throws {
        let shape = Self.shapes[shapeIndex]
        let model = SyntheticModel.mixtral(experts: shape.experts, used: shape.used)
        let path = try model.write(named: "moe-layer-\(shape.experts)x\(shape.used)")
        let file = try GGUFFile(path: path)
        for threads in [1, 2] {
            let transformer = try Transformer(file: file, options: ModelOptions(threads: threads, kvType: .f32))
            guard case .experts(let moe) = try #require(transformer.layers.first).feedForward else {
                Issue.record("layer 0 has no experts")
                return
            }
            let k: Int
            switch routing {
            case .oneExpert: k = 1
            case .everyExpert: k = shape.experts
            case .spread, .decode: k = shape.used
            }
            moe.expertsUsed = k
            let rows = routing == .decode ? 1 : 12
            let x = Self.input(rows: rows, width: model.embedding, identical: routing == .oneExpert)
            let y = try Self.apply(moe, x, rows: rows, compute: transformer.compute)

            let picked = moe.statistics.selections.filter { $0 > 0 }.count
            switch routing {
            case .oneExpert: #expect(picked == 1, "identical tokens with k = 1 went to \(picked) experts")
            case .spread: #expect(picked >= shape.experts / 2, "only \(picked) experts picked: not spread")
            case .everyExpert: #expect(picked == shape.experts)
            case .decode: #expect(picked == k)
            }
            let reference = MoEReference(file: file, model: model, family: .init(ropeHalves: false, renormalize: true), k: k)
            var worst = 0.0, scale = 0.0
            for t in 0..<rows {
                let row = x[t * model.embedding..<(t + 1) * model.embedding].map(Double.init)
                let expected = reference.moe(row, layer: "blk.0.")
                for (i, v) in expected.enumerated() {
                    worst = max(worst, abs(Double(y[t * model.embedding + i]) - v))
                    scale = max(scale, abs(v))
                }
            }
            #expect(scale > 1e-3, "the layer's output is all but zero: the comparison shows nothing")
            #expect(worst <= 1e-5 * max(1, scale), "threads \(threads): max |engine − reference| = \(worst)")
        }
    }

    /// `rows` rows of random values (all equal to the first when `identical`).
    static func input(rows: Int, width: Int, identical: Bool) -> [Float] {
        var random = SeededRandom(seed: 99)
        let first = (0..<width).map { _ in random.nextSigned() }
        return (0..<rows).flatMap { _ in identical ? first : (0..<width).map { _ in random.nextSigned() } }
    }

    static func apply(_ moe: ExpertFeedForward, _ x: [Float], rows: Int, compute: ComputeContext) throws -> [Float] {
        let width = x.count / rows
        var y = [Float](repeating: .nan, count: x.count)
        var gate = [Float](repeating: 0, count: rows * moe.hiddenSize)
        var up = gate
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { yb in
                try gate.withUnsafeMutableBufferPointer { g in
                    try up.withUnsafeMutableBufferPointer { u in
                        try moe.apply(xb.baseAddress!, rows: rows, into: yb.baseAddress!, gateBuffer: g.baseAddress!,
                                      upBuffer: u.baseAddress!, compute: compute)
                    }
                }
            }
        }
        #expect(y.count == rows * width)
        return y
    }
}

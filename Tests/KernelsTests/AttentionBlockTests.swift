import CKernels
import Foundation
import Testing
@testable import Kernels

/// Prompt attention over a block of consecutive query rows: row r attends
/// `start + r + 1` cached rows, checked against double-precision attention
/// over the rows as the cache rounded them.
private struct BlockCase {
    let type: KVCacheType, size: Int, start: Int, rows: Int
    let rowValues: Int, queryStride: Int
    let q: [Float], keys: [UInt8], values: [UInt8], roundedKeys: [Float], roundedValues: [Float]

    init(_ type: KVCacheType, size: Int, start: Int, rows: Int) {
        var rng = SeededGenerator(seed: UInt64(size * 131 + start * 17 + rows))
        self.type = type
        self.size = size
        self.start = start
        self.rows = rows
        rowValues = size * 2     // two kv heads a row; the second is attended
        queryStride = size * 3   // queries of a wider projection, as in a batch
        q = randomFloats(queryStride * rows, &rng, scale: 2)
        let rowBytes = type.rowBytes(rowValues), count = start + rows
        var k = [UInt8](repeating: 0, count: rowBytes * count), v = k, rk = [Float](), rv = [Float]()
        for j in 0..<count {
            rk += storeKVRow(type, randomFloats(rowValues, &rng), into: &k, at: j * rowBytes)
            rv += storeKVRow(type, randomFloats(rowValues, &rng, scale: 3), into: &v, at: j * rowBytes)
        }
        keys = k
        values = v
        roundedKeys = rk
        roundedValues = rv
    }

    func attend(isa: KernelISA) -> [Float] {
        var scores = [Float](repeating: .nan, count: VectorOps.blockScratch(length: start + 1, rows: rows))
        var out = [Float](repeating: .nan, count: queryStride * rows)
        let stride = type.rowBytes(rowValues), offset = type.rowBytes(size)
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                VectorOps.attendBlock(type, isa: isa, query: q, queryStride: queryStride, rows: rows,
                                      keys: k.baseAddress! + offset, values: v.baseAddress! + offset,
                                      strideBytes: stride, length: start + 1, size: size,
                                      scale: 1 / Float(size).squareRoot(), scores: &scores, into: &out,
                                      outStride: queryStride)
            }
        }
        return out
    }

    func reference(row r: Int) -> [Double] {
        let scale = 1 / Double(Float(size).squareRoot()), length = start + 1 + r
        let logits = (0..<length).map { j in
            (0..<size).reduce(0.0) { $0 + Double(q[r * queryStride + $1]) * Double(roundedKeys[j * rowValues + size + $1]) } * scale
        }
        let top = logits.max()!
        let weights = logits.map { exp($0 - top) }, total = weights.reduce(0, +)
        return (0..<size).map { d in
            (0..<length).reduce(0.0) { $0 + weights[$1] / total * Double(roundedValues[$1 * rowValues + size + d]) }
        }
    }
}

/// (head size, cached rows before the block, rows): odd lengths, a block
/// from position 0, prompts continuing a cached prefix, and tails of 1–3
/// rows; heads of 24 and 80 end the AVX2 value pass on a single vector.
private let blockShapes = [(64, 0, 9), (64, 37, 13), (128, 5, 7), (32, 0, 1), (96, 11, 6), (64, 130, 4), (16, 2, 3),
                           (24, 3, 5), (80, 9, 8)]

@Suite("Prompt attention over blocks of query rows")
struct AttentionBlockTests {
    @Test("scalar: every row of a block matches double-precision attention over its causal prefix",
          arguments: KVCacheType.allCases)
    func scalarMatchesReference(type: KVCacheType) { check(type, at: .scalar) }

    @Test("AVX2: every row of a block matches double-precision attention", needs(.avx2), arguments: KVCacheType.allCases)
    func avx2MatchesReference(type: KVCacheType) { check(type, at: .avx2) }

    @Test("AVX-512 (the tiled F16 kernel): every row matches double-precision attention", needs(.avx512),
          arguments: KVCacheType.allCases)
    func avx512MatchesReference(type: KVCacheType) { check(type, at: .avx512) }

    private func check(_ type: KVCacheType, at isa: KernelISA) {
        for (size, start, rows) in blockShapes where size % type.blockSize == 0 {
            let c = BlockCase(type, size: size, start: start, rows: rows)
            let out = c.attend(isa: isa)
            for r in 0..<rows {
                let expected = c.reference(row: r)
                for d in 0..<size {
                    let got = Double(out[r * c.queryStride + d])
                    #expect(abs(got - expected[d]) <= 2e-5 * max(1, abs(expected[d])),
                            "\(type) at \(isa): size \(size) start \(start) row \(r) value \(d)")
                }
            }
        }
    }
}

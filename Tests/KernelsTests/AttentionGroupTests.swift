import CKernels
import Foundation
import Testing
@testable import Kernels

/// Decode attention by GQA group: the query heads that share a KV head,
/// over an F16 cache whose rows hold two KV heads (the second is attended).
private struct GroupCase {
    let size: Int, group: Int, length: Int
    let rowValues: Int
    let q: [Float], keys: [UInt8], values: [UInt8]

    init(size: Int, group: Int, length: Int) {
        var rng = SeededGenerator(seed: UInt64(size * 7919 + group * 131 + length))
        self.size = size
        self.group = group
        self.length = length
        rowValues = size * 2
        q = randomFloats(size * group, &rng, scale: 2)
        let rowBytes = KVCacheType.f16.rowBytes(rowValues)
        var k = [UInt8](repeating: 0, count: rowBytes * length), v = k
        for j in 0..<length {
            _ = storeKVRow(.f16, randomFloats(rowValues, &rng), into: &k, at: j * rowBytes)
            _ = storeKVRow(.f16, randomFloats(rowValues, &rng, scale: 3), into: &v, at: j * rowBytes)
        }
        keys = k
        values = v
    }

    var stride: Int { KVCacheType.f16.rowBytes(rowValues) }
    var scale: Float { 1 / Float(size).squareRoot() }

    /// The group's heads through `attendGroup` at `isa`, over rows from..<to.
    func grouped(isa: KernelISA, rows: Range<Int>? = nil, maxima: UnsafeMutablePointer<Float>? = nil,
                 sums: UnsafeMutablePointer<Float>? = nil) -> [Float] {
        let rows = rows ?? 0..<length
        var scores = [Float](repeating: .nan, count: group * max(1, rows.count))
        var out = [Float](repeating: .nan, count: group * size)
        let offset = KVCacheType.f16.rowBytes(size) + rows.lowerBound * stride
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                VectorOps.attendGroup(isa: isa, query: q, group: group, keys: k.baseAddress! + offset,
                                      values: v.baseAddress! + offset, strideBytes: stride, length: rows.count,
                                      size: size, scale: scale, scores: &scores, into: &out, maxima: maxima, sums: sums)
            }
        }
        return out
    }

    /// The same heads one at a time through `attendHead` (the path decode took before).
    func perHead(isa: KernelISA) -> [Float] {
        var scores = [Float](repeating: .nan, count: length)
        var out = [Float](repeating: .nan, count: group * size)
        let offset = KVCacheType.f16.rowBytes(size)
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                q.withUnsafeBufferPointer { query in
                    out.withUnsafeMutableBufferPointer { o in
                        for g in 0..<group {
                            VectorOps.attendHead(.f16, isa: isa, query: query.baseAddress! + g * size,
                                                 keys: k.baseAddress! + offset, values: v.baseAddress! + offset,
                                                 strideBytes: stride, length: length, size: size, scale: scale,
                                                 scores: &scores, into: o.baseAddress! + g * size)
                        }
                    }
                }
            }
        }
        return out
    }
}

/// (head size, group size, cached rows): groups of 1, 3 (SmolLM2), 4, 7
/// (Qwen 0.5B) and 8, heads of 64 and 128 (and 40 and 24: a last vector of
/// eight), lengths with every remainder by the four-key tile.
private let groupShapes = [(64, 3, 1), (64, 3, 37), (64, 1, 5), (64, 7, 130), (64, 8, 66), (128, 4, 19),
                           (128, 7, 3), (128, 8, 131), (64, 4, 200), (40, 3, 9), (24, 2, 14), (128, 1, 64)]

@Suite("Decode attention by GQA group")
struct AttentionGroupTests {
    @Test("scalar: each head is the per-head scalar reference bit for bit")
    func scalarIsPerHeadReference() { checkExact(at: .scalar) }

    @Test("AVX2: each head is the per-head AVX2 kernel bit for bit, and the scalar one within 2e-6",
          needs(.avx2))
    func avx2IsPerHeadKernel() {
        checkExact(at: .avx2)
        checkClose(at: .avx2)
    }

    @Test("AVX-512 (runs the AVX2 group code): each head within 2e-6 of the scalar reference", needs(.avx512))
    func avx512MatchesScalar() { checkClose(at: .avx512) }

    @Test("rows attended in parts and merged give the whole range's result, at every level the CPU has",
          arguments: KernelISA.allCases.filter(\.isSupported))
    func partsMerge(isa: KernelISA) {
        for (size, group, length) in groupShapes where length >= 3 {
            let c = GroupCase(size: size, group: group, length: length)
            let whole = c.grouped(isa: isa)
            let cuts = [0, length / 3, length - 1, length]  // the last part one row
            var outputs: [Float] = [], maxima = [Float](repeating: .nan, count: 3 * group), sums = maxima
            for part in 0..<3 {
                outputs += maxima.withUnsafeMutableBufferPointer { m in
                    sums.withUnsafeMutableBufferPointer { s in
                        c.grouped(isa: isa, rows: cuts[part]..<cuts[part + 1], maxima: m.baseAddress! + part * group,
                                  sums: s.baseAddress! + part * group)
                    }
                }
            }
            var merged = [Float](repeating: .nan, count: group * size)
            VectorOps.mergeAttentionParts(3, heads: group, size: size, outputs: outputs, maxima: maxima, sums: sums,
                                          into: &merged)
            for i in merged.indices {
                #expect(abs(merged[i] - whole[i]) <= 4e-6 * max(1, abs(whole[i])),
                        "\(isa): size \(size) group \(group) length \(length) value \(i): \(merged[i]) vs \(whole[i])")
            }
        }
    }

    private func checkExact(at isa: KernelISA) {
        for (size, group, length) in groupShapes {
            let c = GroupCase(size: size, group: group, length: length)
            let got = c.grouped(isa: isa), expected = c.perHead(isa: isa)
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern),
                    "\(isa): size \(size) group \(group) length \(length)")
        }
    }

    private func checkClose(at isa: KernelISA) {
        for (size, group, length) in groupShapes {
            let c = GroupCase(size: size, group: group, length: length)
            let got = c.grouped(isa: isa), expected = c.perHead(isa: .scalar)
            for i in got.indices {
                #expect(abs(got[i] - expected[i]) <= 2e-6 * max(1, abs(expected[i])),
                        "\(isa): size \(size) group \(group) length \(length) value \(i)")
            }
        }
    }
}

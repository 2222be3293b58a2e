import CKernels
import Foundation
import Testing
@testable import Kernels

private func needs(_ isa: KernelISA) -> ConditionTrait {
    let reason = isa.rawValue <= KernelISA.cpu.rawValue
        ? "skipped: MOED_KERNEL_ISA caps the kernels below \(isa)"
        : "skipped: this CPU has no \(isa.requirement)"
    return .enabled(if: isa.isSupported, Comment(rawValue: reason))
}

/// Several query heads over one KV head of a cache whose rows hold three
/// KV heads: `attendGroup` against `attendHead` run head by head.
private struct GroupCase {
    let type: KVCacheType, size: Int, length: Int, heads: Int
    let rowValues: Int
    let queries: [Float]
    var keys: [UInt8], values: [UInt8]

    init(_ type: KVCacheType, size: Int, length: Int, heads: Int) {
        var rng = SeededGenerator(seed: UInt64(size * 131 + length * 17 + heads))
        (self.type, self.size, self.length, self.heads) = (type, size, length, heads)
        rowValues = size * 3
        queries = randomFloats(size * heads, &rng, scale: 2)
        let rowBytes = type.rowBytes(rowValues)
        keys = [UInt8](repeating: 0, count: rowBytes * length)
        values = keys
        for j in 0..<length {
            let k = randomFloats(rowValues, &rng), v = randomFloats(rowValues, &rng, scale: 3)
            keys.withUnsafeMutableBytes { VectorOps.storeRow(type, k, into: $0.baseAddress! + j * rowBytes, count: rowValues) }
            values.withUnsafeMutableBytes { VectorOps.storeRow(type, v, into: $0.baseAddress! + j * rowBytes, count: rowValues) }
        }
    }

    var stride: Int { type.rowBytes(rowValues) }
    var offset: Int { type.rowBytes(size) }  // the second KV head
    var scale: Float { 1 / Float(size).squareRoot() }

    func grouped(isa: KernelISA) -> [Float] {
        var scores = [Float](repeating: .nan, count: heads * length)
        var out = [Float](repeating: .nan, count: heads * size)
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                VectorOps.attendGroup(type, isa: isa, query: queries, queryStride: size, heads: heads,
                                      keys: k.baseAddress! + offset, values: v.baseAddress! + offset, strideBytes: stride,
                                      length: length, size: size, scale: scale, scores: &scores, into: &out, outStride: size)
            }
        }
        return out
    }

    func headByHead() -> [Float] {
        var out = [Float](repeating: .nan, count: heads * size)
        var scores = [Float](repeating: .nan, count: length)
        for h in 0..<heads {
            keys.withUnsafeBytes { k in
                values.withUnsafeBytes { v in
                    queries.withUnsafeBufferPointer { q in
                        out.withUnsafeMutableBufferPointer { o in
                            VectorOps.attendHead(type, isa: .scalar, query: q.baseAddress! + h * size,
                                                 keys: k.baseAddress! + offset, values: v.baseAddress! + offset,
                                                 strideBytes: stride, length: length, size: size, scale: scale,
                                                 scores: &scores, into: o.baseAddress! + h * size)
                        }
                    }
                }
            }
        }
        return out
    }
}

@Suite("Attention of a GQA group over one KV head")
struct AttentionGroupTests {
    // (size, length, heads): SmolLM2's group of 3, Qwen 0.5B's 7, the 1.5B's 8, one head, odd lengths
    // and lengths around the sixteen-position blocks, the widest blocked head (256) and a wider one
    static let shapes = [(64, 37, 3), (64, 130, 7), (128, 70, 8), (64, 1, 3), (96, 9, 5), (32, 20, 1),
                         (64, 16, 2), (64, 32, 4), (256, 33, 3), (320, 18, 2)]

    @Test("every level's grouped attention equals scalar attention head by head", arguments: KernelISA.allCases)
    func groupedEqualsHeadByHead(isa: KernelISA) throws {
        guard isa.isSupported else {
            print("skipped: grouped attention at \(isa): this CPU has no \(isa.requirement) (or MOED_KERNEL_ISA caps it)")
            return
        }
        for type in KVCacheType.allCases {
            for (size, length, heads) in Self.shapes {
                let c = GroupCase(type, size: size, length: length, heads: heads)
                let fast = c.grouped(isa: isa), slow = c.headByHead()
                #expect(!fast.contains { $0.isNaN }, "\(type) at \(isa): every output written")
                let worst = zip(fast, slow).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
                #expect(worst <= 2e-5, "\(type) at \(isa), size \(size), length \(length), heads \(heads)")
            }
        }
    }

    @Test("AVX-512 F16 grouped attention is exercised here", needs(.avx512))
    func avx512Available() {
        let c = GroupCase(.f16, size: 64, length: 50, heads: 3)
        let worst = zip(c.grouped(isa: .avx512), c.headByHead()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 2e-5)
    }
}

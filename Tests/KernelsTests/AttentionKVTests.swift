import CKernels
import Foundation
import Testing
@testable import Kernels

/// A cache of `length` rows of `rowValues` values in `type`, the query, and
/// the rows as the cache rounded them (dequantized back to floats).
private struct Case {
    let type: KVCacheType, size: Int, length: Int, rowValues: Int, headOffset: Int
    let q: [Float]
    var keys: [UInt8], values: [UInt8]
    let roundedKeys: [Float], roundedValues: [Float]

    init(_ type: KVCacheType, size: Int, length: Int) {
        var rng = SeededGenerator(seed: UInt64(size * 7919 + length * 31) + UInt64(type.rowBytes(64)))
        self.type = type
        self.size = size
        self.length = length
        rowValues = size * 3  // rows of a wider cache, as with several kv heads
        headOffset = size     // attend the second head
        q = randomFloats(size, &rng, scale: 2)
        let rowBytes = type.rowBytes(rowValues)
        keys = [UInt8](repeating: 0, count: rowBytes * length)
        values = keys
        var rk = [Float](), rv = [Float]()
        for j in 0..<length {
            let k = randomFloats(rowValues, &rng), v = randomFloats(rowValues, &rng, scale: 3)
            rk += storeKVRow(type, k, into: &keys, at: j * rowBytes)
            rv += storeKVRow(type, v, into: &values, at: j * rowBytes)
        }
        roundedKeys = rk
        roundedValues = rv
    }

    func attend(isa: KernelISA?) -> [Float] {
        var scores = [Float](repeating: .nan, count: length), out = [Float](repeating: .nan, count: size)
        let stride = type.rowBytes(rowValues), offset = type.rowBytes(headOffset)
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                VectorOps.attendHead(type, isa: isa, query: q, keys: k.baseAddress! + offset, values: v.baseAddress! + offset,
                                     strideBytes: stride, length: length, size: size, scale: 1 / Float(size).squareRoot(),
                                     scores: &scores, into: &out)
            }
        }
        return out
    }

    /// softmax(q·Kᵀ·scale)·V in doubles over the rounded rows.
    var reference: [Double] {
        let scale = 1 / Double(Float(size).squareRoot())
        let logits = (0..<length).map { j in
            (0..<size).reduce(0.0) { $0 + Double(q[$1]) * Double(roundedKeys[j * rowValues + headOffset + $1]) } * scale
        }
        let top = logits.max()!
        let weights = logits.map { exp($0 - top) }, total = weights.reduce(0, +)
        return (0..<size).map { d in
            (0..<length).reduce(0.0) { $0 + weights[$1] / total * Double(roundedValues[$1 * rowValues + headOffset + d]) }
        }
    }
}

private let shapes = [(64, 37), (128, 70), (32, 1), (64, 130), (96, 9), (160, 5), (224, 3)]  // 160, 224: a last part of fewer vectors

@Suite("Attention over F16 and Q8_0 KV caches")
struct AttentionKVTests {
    @Test("the scalar kernel of each cache type matches double-precision attention over the rounded rows",
          arguments: [KVCacheType.f16, .q8_0, .f32])
    func scalarMatchesReference(type: KVCacheType) throws {
        for (size, length) in shapes {
            let c = Case(type, size: size, length: length)
            let out = c.attend(isa: .scalar), expected = c.reference
            for d in 0..<size {
                #expect(abs(Double(out[d]) - expected[d]) <= 1e-5 * max(1, abs(expected[d])),
                        "\(type) size \(size) length \(length) value \(d)")
            }
        }
    }

    @Test("a stored row reads back within the cache type's rounding step")
    func roundingIsBounded() {
        var rng = SeededGenerator(seed: 99)
        let x = randomFloats(128, &rng, scale: 4)
        var bytes = [UInt8](repeating: 0, count: 512)
        let f16 = storeKVRow(.f16, x, into: &bytes, at: 0), q8 = storeKVRow(.q8_0, x, into: &bytes, at: 0)
        for i in 0..<x.count {
            #expect(abs(f16[i] - x[i]) <= abs(x[i]) / 2048 + 1e-7, "f16 value \(i)")
            let block = x[(i / 32 * 32)..<(i / 32 * 32 + 32)].map(abs).max()!
            // half a step of d = amax/127, plus d's own rounding to binary16
            #expect(abs(q8[i] - x[i]) <= block / 127 * 0.5 + block / 2048, "q8_0 value \(i)")
        }
    }

    @Test("AVX2 attention agrees with scalar for every cache type", needs(.avx2), arguments: KVCacheType.allCases)
    func avx2AgreesWithScalar(type: KVCacheType) { agree(type, at: .avx2) }

    @Test("AVX-512 attention agrees with scalar for every cache type", needs(.avx512), arguments: KVCacheType.allCases)
    func avx512AgreesWithScalar(type: KVCacheType) { agree(type, at: .avx512) }

    private func agree(_ type: KVCacheType, at isa: KernelISA) {
        for (size, length) in shapes {
            let c = Case(type, size: size, length: length)
            let fast = c.attend(isa: isa), slow = c.attend(isa: .scalar)
            for d in 0..<size {
                #expect(abs(fast[d] - slow[d]) <= 2e-5 * max(1, abs(slow[d])), "\(type) at \(isa), size \(size), length \(length), value \(d)")
            }
        }
    }

    @Test("row sizes: F16 two bytes a value, Q8_0 34 bytes a block of 32, F32 four")
    func rowBytes() {
        #expect(KVCacheType.f32.rowBytes(64) == 256)
        #expect(KVCacheType.f16.rowBytes(64) == 128)
        #expect(KVCacheType.q8_0.rowBytes(64) == 68)
        #expect(KVCacheType(name: "Q8_0") == .q8_0 && KVCacheType(name: "f16") == .f16 && KVCacheType(name: "bf16") == nil)
    }
}

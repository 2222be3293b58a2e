import CKernels
@testable import Kernels

/// Stores a row into a KV cache's bytes through the cache's own store, and
/// returns it as the cache rounded it (read back exactly), for references.
func storeKVRow(_ type: KVCacheType, _ x: [Float], into bytes: inout [UInt8], at offset: Int) -> [Float] {
    bytes.withUnsafeMutableBytes { VectorOps.storeRow(type, x, into: $0.baseAddress! + offset, count: x.count) }
    var back = [Float](repeating: 0, count: x.count)
    bytes.withUnsafeBytes { raw in
        let row = raw.baseAddress! + offset
        switch type {
        case .f32: back = Array(UnsafeBufferPointer(start: row.assumingMemoryBound(to: Float.self), count: x.count))
        case .f16: moe_dequant_f16(row, &back, Int64(x.count))
        case .q8_0: moe_dequant_q8_0(row, &back, Int64(x.count))
        }
    }
    return back
}

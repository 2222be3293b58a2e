// Builders for K-quant blocks, written from ggml's documented layouts
// (ggml-common.h) independently of the C unpacking code they test: the
// tests pack known scales and quants into bytes here and check that the
// kernels read the same numbers back.
import TestSupport
import CKernels

/// The numbers one K-quant block encodes: a super-block scale (and min
/// scale), per-sub-block integer scales (and mins), and 256 integer quants.
struct KQuantBlock {
    var d: Float16
    var dmin: Float16 = 0
    var scales: [Int]
    var mins: [Int] = []
    var quants: [Int]
}

private func appendHalf(_ h: Float16, to bytes: inout [UInt8]) {
    bytes.append(UInt8(h.bitPattern & 0xff))
    bytes.append(UInt8(h.bitPattern >> 8))
}

/// Q4_K and Q5_K scale bytes: 6-bit scale/min 0-3 in bytes 0-3 / 4-7, the top
/// two bits of scale/min 4-7 in bits 6-7 of those bytes, their low four bits
/// in the nibbles of bytes 8-11.
func packScalesAndMins(_ scales: [Int], _ mins: [Int]) -> [UInt8] {
    var packed = [UInt8](repeating: 0, count: 12)
    for j in 0..<4 {
        packed[j] = UInt8(scales[j] | (scales[j + 4] >> 4) << 6)
        packed[j + 4] = UInt8(mins[j] | (mins[j + 4] >> 4) << 6)
        packed[j + 8] = UInt8((scales[j + 4] & 0xf) | (mins[j + 4] & 0xf) << 4)
    }
    return packed
}

/// Weight w of a Q4_K/Q5_K block sits in byte 32*(w/64) + w%32 of qs,
/// low nibble for the first 32 of each 64, high nibble for the second.
private func packNibbles(_ quants: [Int]) -> [UInt8] {
    var qs = [UInt8](repeating: 0, count: 128)
    for (w, q) in quants.enumerated() {
        let index = 32 * (w / 64) + w % 32
        qs[index] |= UInt8(q & 0xf) << (w % 64 < 32 ? 0 : 4)
    }
    return qs
}

func packQ4K(_ b: KQuantBlock) -> [UInt8] {
    var bytes: [UInt8] = []
    appendHalf(b.d, to: &bytes)
    appendHalf(b.dmin, to: &bytes)
    return bytes + packScalesAndMins(b.scales, b.mins) + packNibbles(b.quants)
}

/// Q5_K: as Q4_K, plus bit 4 of weight w in bit w/32 of qh[w % 32].
func packQ5K(_ b: KQuantBlock) -> [UInt8] {
    var bytes: [UInt8] = []
    appendHalf(b.d, to: &bytes)
    appendHalf(b.dmin, to: &bytes)
    var qh = [UInt8](repeating: 0, count: 32)
    for (w, q) in b.quants.enumerated() where q >= 16 {
        qh[w % 32] |= 1 << (w / 32)
    }
    return bytes + packScalesAndMins(b.scales, b.mins) + qh + packNibbles(b.quants)
}

/// Q6_K: halves of 128; within a half, run r = (w%128)/32 and l = w%32 use
/// ql[64*half + 32*(r%2) + l] (low nibble for r < 2) and bits 2r, 2r+1 of
/// qh[32*half + l]. Quants are stored as q + 32 in 0...63; scales are int8.
func packQ6K(_ b: KQuantBlock) -> [UInt8] {
    var ql = [UInt8](repeating: 0, count: 128)
    var qh = [UInt8](repeating: 0, count: 64)
    for (w, q) in b.quants.enumerated() {
        let stored = q + 32
        let half = w / 128, run = (w % 128) / 32, l = w % 32
        ql[64 * half + 32 * (run % 2) + l] |= UInt8(stored & 0xf) << (run < 2 ? 0 : 4)
        qh[32 * half + l] |= UInt8(stored >> 4) << (2 * run)
    }
    var bytes = ql + qh + b.scales.map { UInt8(bitPattern: Int8($0)) }
    appendHalf(b.d, to: &bytes)
    return bytes
}

/// Q2_K/Q3_K low two bits: weight w = 128*half + 32*g + k goes in bits 2g of
/// qs[32*half + k].
private func packCrumbs(_ quants: [Int]) -> [UInt8] {
    var qs = [UInt8](repeating: 0, count: 64)
    for (w, q) in quants.enumerated() {
        qs[32 * (w / 128) + w % 32] |= UInt8(q & 3) << (2 * ((w % 128) / 32))
    }
    return qs
}

/// Q2_K: one byte per 16-value sub-block, scale in the low nibble, min high.
func packQ2K(_ b: KQuantBlock) -> [UInt8] {
    var bytes = (0..<16).map { UInt8(b.scales[$0] | b.mins[$0] << 4) } + packCrumbs(b.quants)
    appendHalf(b.d, to: &bytes)
    appendHalf(b.dmin, to: &bytes)
    return bytes
}

/// Q3_K: quants q in 0...7 stand for q - 4; bit 2 of weight w is bit w/32 of
/// hmask[w % 32]. Scales s in -32...31 are stored as s + 32 in 6 bits: low
/// nibble in byte j (j < 8) or high nibble of byte j-8, top two bits in bits
/// 2*(j/4) of byte 8 + j%4.
func packQ3K(_ b: KQuantBlock) -> [UInt8] {
    var hmask = [UInt8](repeating: 0, count: 32)
    for (w, q) in b.quants.enumerated() where q >= 4 {
        hmask[w % 32] |= 1 << (w / 32)
    }
    var packed = [UInt8](repeating: 0, count: 12)
    for (j, s) in b.scales.enumerated() {
        let u = s + 32
        packed[j % 8] |= UInt8(u & 0xf) << (j < 8 ? 0 : 4)
        packed[8 + j % 4] |= UInt8(u >> 4) << (2 * (j / 4))
    }
    var bytes = hmask + packCrumbs(b.quants) + packed
    appendHalf(b.d, to: &bytes)
    return bytes
}

/// Runs a C dequantizer over packed blocks.
func dequantize(_ blocks: [UInt8], count n: Int,
                with fn: (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    blocks.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { fn(src.baseAddress, $0.baseAddress, Int64(n)) }
    }
    return out
}

/// A Q8_K row as its fields, read from the C quantizer's output bytes.
struct Q8KRow {
    static let blockBytes = 292
    var bytes: [UInt8]

    init(quantizing x: [Float]) {
        bytes = [UInt8](repeating: 0xAA, count: x.count / 256 * Q8KRow.blockBytes)
        bytes.withUnsafeMutableBytes { moe_quantize_q8_K(x, $0.baseAddress, Int64(x.count)) }
    }

    func d(_ block: Int) -> Float {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: block * Q8KRow.blockBytes, as: Float.self) }
    }
    func quant(_ block: Int, _ j: Int) -> Int {
        Int(Int8(bitPattern: bytes[block * Q8KRow.blockBytes + 4 + j]))
    }
    func bsum(_ block: Int, _ j: Int) -> Int {
        Int(bytes.withUnsafeBytes {
            $0.loadUnaligned(fromByteOffset: block * Q8KRow.blockBytes + 260 + 2 * j, as: Int16.self)
        })
    }
}

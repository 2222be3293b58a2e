import GGUF
import Testing
@testable import Kernels

/// Hand-made blocks whose values follow directly from the block layout
/// (ggml's: value j in the low nibble of byte j, value j+16 in the high one;
/// bit j of qh is value j's fifth bit), checked at every ISA level.
@Suite("Dequantization of hand-made blocks")
struct DequantizeTests {
    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }

    /// Nibble j is j, nibble j+16 is 15-j.
    private var nibbles: [UInt8] { (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 } }
    private func nibble(_ j: Int) -> Int { j < 16 ? j : 15 - (j - 16) }
    private let qh: UInt32 = 0xA5C3_0F96

    private func check(_ type: GGMLType, _ block: [UInt8], expected: [Float]) {
        #expect(block.count == type.bytesPerBlock)
        for isa in supportedISAs {
            let kernel = KernelTable(isa: isa)![type]!
            #expect(kernel.dequantized(block, count: expected.count) == expected, "\(type) at \(isa)")
        }
    }

    @Test("q4_0: d = 0.5 and nibbles 0…15 give (q - 8) / 2")
    func q4_0() {
        check(.q4_0, le16(half(0.5)) + nibbles, expected: (0..<32).map { Float(nibble($0) - 8) * 0.5 })
    }

    @Test("q4_1: d = 0.25, m = -1 give q / 4 - 1")
    func q4_1() {
        check(.q4_1, le16(half(0.25)) + le16(half(-1)) + nibbles,
              expected: (0..<32).map { Float(nibble($0)) * 0.25 - 1 })
    }

    @Test("q5_0: the fifth bit comes from qh bit j; d = 2 gives 2(q - 16)")
    func q5_0() {
        let expected = (0..<32).map { j -> Float in
            let q = nibble(j) + Int((qh >> UInt32(j)) & 1) * 16
            return Float(q - 16) * 2
        }
        check(.q5_0, le16(half(2)) + le32(qh) + nibbles, expected: expected)
    }

    @Test("q5_1: d = 0.5, m = 3 give q / 2 + 3")
    func q5_1() {
        let expected = (0..<32).map { j -> Float in
            Float(nibble(j) + Int((qh >> UInt32(j)) & 1) * 16) * 0.5 + 3
        }
        check(.q5_1, le16(half(0.5)) + le16(half(3)) + le32(qh) + nibbles, expected: expected)
    }

    @Test("q8_0: d = 0.125 times signed bytes, -128 included")
    func q8_0() {
        let qs: [Int8] = (0..<32).map { Int8(truncatingIfNeeded: $0 * 8 - 128) }
        check(.q8_0, le16(half(0.125)) + qs.map { UInt8(bitPattern: $0) },
              expected: qs.map { Float($0) * 0.125 })
    }

    @Test("f16: exact values, subnormals and infinity")
    func f16() {
        let bits: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00, 0x8000, 0x3555]
        for isa in supportedISAs {
            let kernel = KernelTable(isa: isa)![.f16]!
            let out = kernel.dequantized(bits.flatMap(le16), count: bits.count)
            #expect(out == [1, -2, 0x1p-24, 65504, .infinity, -0.0, Float(Float16(bitPattern: 0x3555))])
        }
    }

    @Test("bf16: the top half of a float")
    func bf16() {
        check(.bf16, le16(0x3F80), expected: [1])
        check(.bf16, le16(0xC2F7), expected: [-123.5])
    }
}

// The K-quants' kernels (dot: one row; gemm4: four activation rows; dotr4:
// four weight rows) at every level they are built for, called directly, so
// the VNNI variants are checked even before a table level wires them.
import CKernels
import Testing

private typealias Gemm4 = (UnsafeRawPointer?, UnsafeRawPointer?, Int, UnsafePointer<Float>?,
                           UnsafeMutablePointer<Float>?, Int64) -> Void
private typealias DotR4 = (UnsafeRawPointer?, Int, UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void
private typealias Dot = (UnsafeRawPointer?, UnsafeRawPointer?, Int64) -> Float

/// Same integer sums as the one-row reference; only float order differs.
private let multiRowTolerance = 1e-5

private enum Level: String, CaseIterable, Sendable {
    case ref, avx2, avx512, avx512vnni

    /// Whether this CPU runs the level, and if not, why (printed as skipped).
    var missing: String? {
        switch self {
        case .ref: nil
        case .avx2: moe_isa_supported(MOE_ISA_AVX2) != 0 ? nil : "no AVX2 here"
        case .avx512: moe_isa_supported(MOE_ISA_AVX512) != 0 ? nil : "no AVX-512 F/BW here (or MOED_KERNEL_ISA caps it)"
        case .avx512vnni:
            moe_isa_supported(MOE_ISA_AVX512) != 0 && moe_kq_cpu_has_avx512_vnni() != 0
                ? nil : "no AVX-512 VNNI here (or MOED_KERNEL_ISA caps it)"
        }
    }
}

private enum KType: String, CaseIterable, Sendable {
    case q4K = "Q4_K", q5K = "Q5_K", q6K = "Q6_K"

    var blockBytes: Int { [144, 176, 210][index] }
    var halfOffsets: [Int] { self == .q6K ? [208] : [0, 2] }
    private var index: Int { KType.allCases.firstIndex(of: self)! }
    var ref: Dot { [moe_dot_q4_K_q8_K_ref, moe_dot_q5_K_q8_K_ref, moe_dot_q6_K_q8_K_ref][index] }
    var dequant: (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void {
        [moe_dequant_q4_K, moe_dequant_q5_K, moe_dequant_q6_K][index]
    }

    func dot(_ level: Level) -> Dot {
        switch (self, level) {
        case (.q4K, .ref): moe_dot_q4_K_q8_K_ref
        case (.q4K, .avx2): moe_dot_q4_K_q8_K_avx2
        case (.q4K, .avx512): moe_dot_q4_K_q8_K_avx512
        case (.q4K, .avx512vnni): moe_dot_q4_K_q8_K_avx512vnni
        case (.q5K, .ref): moe_dot_q5_K_q8_K_ref
        case (.q5K, .avx2): moe_dot_q5_K_q8_K_avx2
        case (.q5K, .avx512): moe_dot_q5_K_q8_K_avx512
        case (.q5K, .avx512vnni): moe_dot_q5_K_q8_K_avx512vnni
        case (.q6K, .ref): moe_dot_q6_K_q8_K_ref
        case (.q6K, .avx2): moe_dot_q6_K_q8_K_avx2
        case (.q6K, .avx512): moe_dot_q6_K_q8_K_avx512
        case (.q6K, .avx512vnni): moe_dot_q6_K_q8_K_avx512vnni
        }
    }

    func gemm4(_ level: Level) -> Gemm4 {
        switch (self, level) {
        case (.q4K, .ref): moe_gemm4_q4_K_q8_K_ref
        case (.q4K, .avx2): moe_gemm4_q4_K_q8_K_avx2
        case (.q4K, .avx512): moe_gemm4_q4_K_q8_K_avx512
        case (.q4K, .avx512vnni): moe_gemm4_q4_K_q8_K_avx512vnni
        case (.q5K, .ref): moe_gemm4_q5_K_q8_K_ref
        case (.q5K, .avx2): moe_gemm4_q5_K_q8_K_avx2
        case (.q5K, .avx512): moe_gemm4_q5_K_q8_K_avx512
        case (.q5K, .avx512vnni): moe_gemm4_q5_K_q8_K_avx512vnni
        case (.q6K, .ref): moe_gemm4_q6_K_q8_K_ref
        case (.q6K, .avx2): moe_gemm4_q6_K_q8_K_avx2
        case (.q6K, .avx512): moe_gemm4_q6_K_q8_K_avx512
        case (.q6K, .avx512vnni): moe_gemm4_q6_K_q8_K_avx512vnni
        }
    }

    func dotr4(_ level: Level) -> DotR4 {
        switch (self, level) {
        case (.q4K, .ref): moe_dotr4_q4_K_q8_K_ref
        case (.q4K, .avx2): moe_dotr4_q4_K_q8_K_avx2
        case (.q4K, .avx512): moe_dotr4_q4_K_q8_K_avx512
        case (.q4K, .avx512vnni): moe_dotr4_q4_K_q8_K_avx512vnni
        case (.q5K, .ref): moe_dotr4_q5_K_q8_K_ref
        case (.q5K, .avx2): moe_dotr4_q5_K_q8_K_avx2
        case (.q5K, .avx512): moe_dotr4_q5_K_q8_K_avx512
        case (.q5K, .avx512vnni): moe_dotr4_q5_K_q8_K_avx512vnni
        case (.q6K, .ref): moe_dotr4_q6_K_q8_K_ref
        case (.q6K, .avx2): moe_dotr4_q6_K_q8_K_avx2
        case (.q6K, .avx512): moe_dotr4_q6_K_q8_K_avx512
        case (.q6K, .avx512vnni): moe_dotr4_q6_K_q8_K_avx512vnni
        }
    }

    /// Random bytes in every field, moderate finite f16 scales.
    func randomRow(blocks: Int, using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = (0..<(blocks * blockBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for block in 0..<blocks {
            for offset in halfOffsets { setHalf(Float.random(in: -0.1...0.1, using: &rng), &bytes, block * blockBytes + offset) }
        }
        return bytes
    }

    /// Every quant, scale and min at its largest (all bits set), scales of 1.
    func extremeRow(blocks: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xff, count: blocks * blockBytes)
        for block in 0..<blocks { for offset in halfOffsets { setHalf(1, &bytes, block * blockBytes + offset) } }
        return bytes
    }
}

private func setHalf(_ value: Float, _ bytes: inout [UInt8], _ at: Int) {
    let h = Float16(value).bitPattern
    bytes[at] = UInt8(h & 0xff)
    bytes[at + 1] = UInt8(h >> 8)
}

/// Σ|w·a| of two rows, the scale of float rounding in their dot.
private func magnitude(_ type: KType, _ weights: [UInt8], _ acts: [UInt8], count n: Int) -> Double {
    var w = [Float](repeating: 0, count: n), a = [Float](repeating: 0, count: n)
    type.dequant(weights, &w, Int64(n))
    moe_dequant_q8_K(acts, &a, Int64(n))
    return zip(w, a).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
}

private func quantized(_ x: [Float]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: x.count / 256 * 292)
    moe_quantize_q8_K(x, &bytes, Int64(x.count))
    return bytes
}

@Suite("K-quant multi-row kernels against the one-row reference")
struct KQuantMultiRowTests {
    static let blocks = 6

    /// Four weight rows and four activation rows: random ones, or the
    /// extremes (largest weights against ±127 activations, where 16-bit
    /// sums would overflow first).
    private static func rows(_ type: KType, extreme: Bool, seed: UInt64) -> (w: [[UInt8]], a: [[UInt8]]) {
        var rng = SeededGenerator(seed: seed)
        let n = blocks * 256
        let w = (0..<4).map { _ in extreme ? type.extremeRow(blocks: blocks) : type.randomRow(blocks: blocks, using: &rng) }
        let a = (0..<4).map { j -> [UInt8] in
            let x = (0..<n).map { i in extreme ? Float((i / 2 + j) % 2 == 0 ? -1 : 1) : Float.random(in: -2...2, using: &rng) }
            return quantized(x)
        }
        return (w, a)
    }

    @Test("one-row dot = the one-row reference dot, extremes included", arguments: KType.allCases, Level.allCases)
    private func dot(type: KType, level: Level) throws {
        if let missing = level.missing { print("skipped: \(missing) (\(type.rawValue) dot \(level))"); return }
        let n = Self.blocks * 256
        for (seed, extreme) in [(UInt64(7), false), (8, false), (9, true)] {
            let (w, a) = Self.rows(type, extreme: extreme, seed: seed)
            for j in 0..<4 {
                let got = Double(type.dot(level)(w[j], a[j], Int64(n))), ref = Double(type.ref(w[j], a[j], Int64(n)))
                let bound = multiRowTolerance * magnitude(type, w[j], a[j], count: n)
                #expect(abs(got - ref) <= bound, "\(type.rawValue) \(level) seed \(seed) row \(j): \(got) vs \(ref)")
            }
        }
    }

    @Test("gemm4 (four activation rows) = four one-row reference dots",
          arguments: KType.allCases, Level.allCases)
    private func gemm4(type: KType, level: Level) throws {
        if let missing = level.missing { print("skipped: \(missing) (\(type.rawValue) gemm4 \(level))"); return }
        let n = Self.blocks * 256
        for (seed, extreme) in [(UInt64(1), false), (2, false), (3, true)] {
            let (w, a) = Self.rows(type, extreme: extreme, seed: seed)
            let packed = a.flatMap { $0 }, stride = a[0].count
            var scales = [Float](repeating: .nan, count: 4 * Self.blocks)
            var out = [Float](repeating: .nan, count: 4)
            moe_act_scales4_q8_K(packed, stride, &scales, Int64(n))
            type.gemm4(level)(w[0], packed, stride, scales, &out, Int64(n))
            for j in 0..<4 {
                let ref = Double(type.ref(w[0], a[j], Int64(n)))
                let bound = multiRowTolerance * magnitude(type, w[0], a[j], count: n)
                #expect(abs(Double(out[j]) - ref) <= bound, "\(type.rawValue) \(level) seed \(seed) row \(j): \(out[j]) vs \(ref)")
            }
        }
    }

    @Test("dotr4 (four weight rows) = four one-row reference dots",
          arguments: KType.allCases, Level.allCases)
    private func dotr4(type: KType, level: Level) throws {
        if let missing = level.missing { print("skipped: \(missing) (\(type.rawValue) dotr4 \(level))"); return }
        let n = Self.blocks * 256
        for (seed, extreme) in [(UInt64(4), false), (5, false), (6, true)] {
            let (w, a) = Self.rows(type, extreme: extreme, seed: seed)
            let packed = w.flatMap { $0 }, stride = w[0].count
            var out = [Float](repeating: .nan, count: 4)
            type.dotr4(level)(packed, stride, a[0], &out, Int64(n))
            for j in 0..<4 {
                let ref = Double(type.ref(w[j], a[0], Int64(n)))
                let bound = multiRowTolerance * magnitude(type, w[j], a[0], count: n)
                #expect(abs(Double(out[j]) - ref) <= bound, "\(type.rawValue) \(level) seed \(seed) row \(j): \(out[j]) vs \(ref)")
            }
        }
    }

    @Test("dot_rows (decode over a run of rows, as each table level has it) = one-row reference dots",
          arguments: KType.allCases, [Level.avx2, .avx512, .avx512vnni])
    private func dotRows(type: KType, level: Level) throws {
        let isa: moe_isa = level == .avx2 ? MOE_ISA_AVX2 : level == .avx512 ? MOE_ISA_AVX512 : MOE_ISA_AVX512VNNI
        if moe_isa_supported(isa) == 0 {
            print("skipped: no \(level) here (or MOED_KERNEL_ISA caps it) (\(type.rawValue) dot_rows)")
            return
        }
        let ggmlType: UInt32 = [12, 13, 14][KType.allCases.firstIndex(of: type)!]
        let rowsDot = try #require(moe_kernel_get(ggmlType, isa)?.pointee.dot_rows)
        let n = Self.blocks * 256
        for (seed, extreme) in [(UInt64(10), false), (11, true)] {
            let (w, a) = Self.rows(type, extreme: extreme, seed: seed)
            for rows in [4, 3, 1] {
                let packed = w.prefix(rows).flatMap { $0 }, stride = w[0].count
                var out = [Float](repeating: .nan, count: rows)
                rowsDot(packed, stride, Int64(rows), a[1], &out, Int64(n))
                for r in 0..<rows {
                    let ref = Double(type.ref(w[r], a[1], Int64(n)))
                    let bound = multiRowTolerance * magnitude(type, w[r], a[1], count: n)
                    #expect(abs(Double(out[r]) - ref) <= bound, "\(type.rawValue) \(level) \(rows) rows, row \(r): \(out[r]) vs \(ref)")
                }
            }
        }
    }

    @Test("the extreme rows do reach the 16-bit limit of one maddubs pair per sub-block")
    func extremesAreExtreme() {
        // Q6_K at 63 against 127 in both bytes of a pair: 2 · 63 · 127 = 16002,
        // the largest i16 pair sum any kernel forms; the test rows hold it.
        let w = KType.q6K.extremeRow(blocks: 1)
        var values = [Float](repeating: 0, count: 256)
        moe_dequant_q6_K(w, &values, 256)
        #expect(values.allSatisfy { $0 == Float(Int8(bitPattern: 0xff)) * 31 })  // d · scale(-1) · (63 - 32)
        let a = quantized((0..<256).map { Float(($0 / 2) % 2 == 0 ? -1 : 1) })
        #expect(a[4] == UInt8(bitPattern: -127) && a[5] == UInt8(bitPattern: -127) && a[6] == 127 && a[7] == 127)
    }
}

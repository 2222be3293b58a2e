import GGUF
import Testing
@testable import Kernels

/// A level's test runs only where the CPU has it; elsewhere it is reported
/// skipped, saying why.
private func needs(_ isa: KernelISA) -> ConditionTrait {
    let reason = isa.rawValue <= KernelISA.cpu.rawValue
        ? "skipped: MOED_KERNEL_ISA caps the kernels below \(isa)"
        : "skipped: this CPU has no \(isa.requirement)"
    return .enabled(if: isa.isSupported, Comment(rawValue: reason))
}

/// Batched decoding's four-row run (`dot4Rows(streaming: true)`, which
/// fetches weight rows ahead, `moe_gemm4_rows_ahead`) must give exactly the
/// prompt tiles' run (`streaming: false`) — the same kernel on the same
/// rows, only the prefetches differ — and both must match four one-row dots
/// to rounding.
@Suite("The four-row run that fetches rows ahead")
struct FourRowRunAheadTests {
    static let rows = 37  // beyond the four rows fetched ahead, and odd
    static let columns = 256

    func check(_ isa: KernelISA) throws {
        let table = try #require(KernelTable(isa: isa))
        var checked = 0
        for type in matrixTypes {
            guard let kernel = table[type], kernel.hasScaledFourRowDot,
                  let rowBytes = kernel.rowBytes(count: Self.columns),
                  let activationBytes = kernel.activationRowBytes(count: Self.columns) else { continue }
            var rng = SeededGenerator(seed: UInt64(type.rawValue) * 977 + UInt64(isa.rawValue))
            let weights = randomWeights(type, count: Self.rows * Self.columns, &rng)
            let input = randomFloats(4 * Self.columns, &rng, scale: 2)
            var activations = [UInt8](repeating: 0, count: 4 * activationBytes)
            var scales = [Float](repeating: 0, count: Self.columns / kernel.activationBlockSize * kernel.scalesPerBlock)
            var ahead = [Float](repeating: .nan, count: 4 * Self.rows)
            var plain = ahead
            weights.withUnsafeBytes { w in
                activations.withUnsafeMutableBytes { a in
                    for j in 0..<4 {
                        input.withUnsafeBufferPointer { x in
                            kernel.quantizeActivations(x.baseAddress! + j * Self.columns,
                                                       into: a.baseAddress! + j * activationBytes, count: Self.columns)
                        }
                    }
                    kernel.activationScales4(a.baseAddress!, activationStride: activationBytes, into: &scales,
                                             count: Self.columns)
                    scales.withUnsafeBufferPointer { s in
                        ahead.withUnsafeMutableBufferPointer { out in
                            _ = kernel.dot4Rows(weights: w.baseAddress!, weightStride: rowBytes, rows: Self.rows,
                                                a.baseAddress!, activationStride: activationBytes, scales: s.baseAddress!,
                                                into: out.baseAddress!, outputStride: Self.rows, count: Self.columns,
                                                streaming: true)
                        }
                        plain.withUnsafeMutableBufferPointer { out in
                            _ = kernel.dot4Rows(weights: w.baseAddress!, weightStride: rowBytes, rows: Self.rows,
                                                a.baseAddress!, activationStride: activationBytes, scales: s.baseAddress!,
                                                into: out.baseAddress!, outputStride: Self.rows, count: Self.columns,
                                                streaming: false)
                        }
                    }
                    // one-row dots: the same integer block sums, floats added in another order
                    var ones = [Float](repeating: 0, count: 4 * Self.rows)
                    for j in 0..<4 {
                        for r in 0..<Self.rows {
                            ones[j * Self.rows + r] = kernel.dot(w.baseAddress! + r * rowBytes,
                                                                 a.baseAddress! + j * activationBytes, count: Self.columns)
                        }
                    }
                    let scale = ones.map { abs($0) }.max() ?? 1
                    for k in ones.indices {
                        #expect(ahead[k].bitPattern == plain[k].bitPattern,
                                "\(type) at \(isa): output \(k): \(ahead[k]) against \(plain[k])")
                        #expect(abs(ahead[k] - ones[k]) <= 1e-5 * max(1, scale),
                                "\(type) at \(isa): output \(k): \(ahead[k]) against the one-row \(ones[k])")
                    }
                }
            }
            checked += 1
        }
        #expect(checked > 0, "no type at \(isa) has a scaled four-row dot")
    }

    @Test("AVX2: the run fetching ahead equals the plain run, and one-row dots to rounding", needs(.avx2))
    func avx2() throws { try check(.avx2) }

    @Test("AVX-512: the run fetching ahead equals the plain run, and one-row dots to rounding", needs(.avx512))
    func avx512() throws { try check(.avx512) }

    @Test("AVX-512 VNNI: the run fetching ahead equals the plain run, and one-row dots to rounding", needs(.avx512vnni))
    func avx512vnni() throws { try check(.avx512vnni) }
}

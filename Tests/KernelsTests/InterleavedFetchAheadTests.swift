import CKernels
import GGUF
import Glibc
import Testing
@testable import Kernels

/// The x8 products of two to four activation rows (one to four at avx2)
/// fetch their weight stream ahead into L2 by hand (kx8_prefetch.h for Q4_K, Q5_K and Q6_K, and for Q8_0 at avx2;
/// x8_q8_0_vnni.h for Q8_0 and Q5_0 at avx512vnni), up to 6 KiB past
/// the matrix's last byte at its end. A prefetch never faults, so a matrix
/// that ends right before an inaccessible page must give the same outputs,
/// bit for bit, as the same matrix in an ordinary array.
@Suite("Interleaved products fetching ahead")
struct InterleavedFetchAheadTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let type: GGMLType
        let count: Int
        var isa = KernelISA.avx512vnni
        var testDescription: String { "\(type) at \(isa), \(count) values a row" }
        var layout: EightRowLayout {
            switch type {
            case .q4_K: EightRowLayout(type: .q4_K, repack: moe_repack_q4_K_x8, unpack: moe_unpack_q4_K_x8)
            case .q5_K: EightRowLayout(type: .q5_K, repack: moe_repack_q5_K_x8, unpack: moe_unpack_q5_K_x8)
            case .q6_K: EightRowLayout(type: .q6_K, repack: moe_repack_q6_K_x8, unpack: moe_unpack_q6_K_x8)
            case .q5_0: EightRowLayout(type: .q5_0, repack: moe_repack_q5_0_x8, unpack: moe_unpack_q5_0_x8)
            default: EightRowLayout(type: .q8_0, repack: moe_repack_q8_0_x8, unpack: moe_unpack_q8_0_x8)
            }
        }
        var product: EightRowLayout.Product {
            if isa == .avx2 {
                return switch type {
                case .q4_K: moe_gemm_q4_Kx8_q8_K_avx2
                case .q5_K: moe_gemm_q5_Kx8_q8_K_avx2
                case .q6_K: moe_gemm_q6_Kx8_q8_K_avx2
                default: moe_gemm_q8_0x8_q8_0_avx2
                }
            }
            return switch type {
            case .q4_K: moe_gemm_q4_Kx8_q8_K_vnni
            case .q5_K: moe_gemm_q5_Kx8_q8_K_vnni
            case .q6_K: moe_gemm_q6_Kx8_q8_K_vnni
            case .q5_0: moe_gemm_q5_0x8_q8_0_vnni
            default: moe_gemm_q8_0x8_q8_0_vnni
            }
        }
    }

    @Test("2 to 4 activation rows (1 to 4 at avx2) on weights that end at an inaccessible page: no fault, the same outputs bit for bit",
          arguments: [Case(type: .q4_K, count: 4864), Case(type: .q5_K, count: 4864), Case(type: .q6_K, count: 4864),
                      Case(type: .q5_0, count: 4864), Case(type: .q8_0, count: 4864),
                      Case(type: .q4_K, count: 4864, isa: .avx2), Case(type: .q5_K, count: 4864, isa: .avx2),
                      Case(type: .q6_K, count: 4864, isa: .avx2), Case(type: .q8_0, count: 4864, isa: .avx2)])
    func endOfMapping(c: Case) throws {
        guard c.isa.isSupported else { print("skipped: no \(c.isa) here, or MOED_KERNEL_ISA caps it (\(c.type) x8 fetching ahead)"); return }
        let rows = 16
        // the AVX2 products fetch ahead from one row (kx8_prefetch.h, repack_q8_0_avx2.c)
        for m in (c.isa == .avx2 ? 1 : 2)...4 {
            let (weights, activations) = try c.layout.inputs(rows: rows, count: c.count, m: m, seed: 9100 + UInt64(m))
            let packed = c.layout.repacked(weights, rows: rows, count: c.count)
            let expected = EightRowLayout.product(c.product, packed, rows: rows, activations, count: c.count)
            let guarded = try GuardedBytes(packed)
            defer { guarded.release() }
            var out = [Float](repeating: .nan, count: rows * m)
            let joined = activations.flatMap { $0 }
            joined.withUnsafeBytes { a in
                c.product(guarded.start, Int64(rows), a.baseAddress!, activations[0].count, Int64(m), &out, rows, Int64(c.count))
            }
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "m = \(m)")
        }
    }
}

/// Bytes copied to the end of a private mapping whose next page is
/// inaccessible (PROT_NONE), so any load past them faults.
private struct GuardedBytes {
    let base: UnsafeMutableRawPointer
    let length: Int
    let start: UnsafeRawPointer

    init(_ bytes: [UInt8]) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = (bytes.count + page - 1) / page
        length = (dataPages + 1) * page
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        base = try #require(mapped == MAP_FAILED ? nil : mapped)
        let guardPage = base + dataPages * page
        try #require(mprotect(guardPage, page, PROT_NONE) == 0)
        let at = guardPage - bytes.count
        bytes.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        start = UnsafeRawPointer(at)
    }

    func release() { munmap(base, length) }
}

import Foundation
import Testing
@testable import Inference
#if canImport(Glibc)
import Glibc
#endif

/// The memory interleaved copies live in: page-aligned pieces of
/// 2 MiB-aligned chunks, pages given back per copy, huge pages asked for
/// after the copies are made.
@Suite("Weight arena")
struct WeightArenaTests {
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Whether this kernel collapses anonymous memory into huge pages
    /// (Linux 6.1+, THP not "never"): a probe on a mapping of its own.
    static let collapseWorks: Bool = {
        let size = 4 << 20
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return false }
        defer { munmap(raw, size) }
        let aligned = raw + (WeightArena.hugePageBytes - Int(bitPattern: raw) % WeightArena.hugePageBytes) % WeightArena.hugePageBytes
        memset(aligned, 1, WeightArena.hugePageBytes)
        return madvise(aligned, WeightArena.hugePageBytes, 25) == 0
    }()

    /// Pages of `bytes` the process holds now (mincore).
    static func residentPages(_ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int {
        var vector = [UInt8](repeating: 0, count: (count + page - 1) / page)
        guard mincore(bytes, count, &vector) == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }

    @Test func piecesArePageAlignedAndShareAHugePageAlignedChunk() throws {
        let arena = WeightArena(collapses: false)
        #expect(arena.isEmpty)
        let a = try #require(arena.allocate(1000))
        let b = try #require(arena.allocate(3 * Self.page))
        #expect(!arena.isEmpty)
        #expect(a.chunk === b.chunk)
        #expect(Int(bitPattern: a.chunk.base) % WeightArena.hugePageBytes == 0)
        #expect(a.bytes == a.chunk.base)
        // 1000 bytes take one page: the next piece starts on the next one
        #expect(b.bytes == a.bytes + Self.page)
        // larger than a chunk: a chunk of its own, whole huge pages
        let big = try #require(arena.allocate(WeightArena.chunkBytes + 1))
        #expect(big.chunk !== a.chunk)
        #expect(big.chunk.byteCount % WeightArena.hugePageBytes == 0)
        #expect(big.chunk.byteCount >= WeightArena.chunkBytes + 1)
        #expect(arena.allocate(0) == nil)
    }

    @Test func releaseGivesBackOnlyThatCopysPages() throws {
        let arena = WeightArena(collapses: false)
        let first = try #require(InterleavedWeights(byteCount: 8 * Self.page, arena: arena))
        var second: InterleavedWeights? = try #require(InterleavedWeights(byteCount: 8 * Self.page, arena: arena))
        memset(first.bytes, 7, first.byteCount)
        memset(second!.bytes, 9, second!.byteCount)
        let secondBytes = second!.bytes
        #expect(Self.residentPages(secondBytes, 8 * Self.page) == 8)
        second = nil
        #expect(Self.residentPages(secondBytes, 8 * Self.page) == 0)
        #expect(Self.residentPages(first.bytes, first.byteCount) == 8)
        #expect(first.bytes.load(fromByteOffset: first.byteCount - 1, as: UInt8.self) == 7)
    }

    @Test func copiesCountInTheLedgerWhereverTheyLive() throws {
        let ledger = CopyLedger()
        let arena = WeightArena(collapses: false)
        var inArena: InterleavedWeights? = InterleavedWeights(byteCount: 5000, ledger: ledger, arena: arena)
        var own: InterleavedWeights? = InterleavedWeights(byteCount: 3000, ledger: ledger)
        #expect(ledger.bytes == 8000)
        inArena = nil
        #expect(ledger.bytes == 3000)
        own = nil
        #expect(ledger.bytes == 0)
        _ = (inArena, own)
    }

    @Test(.enabled(if: WeightArenaTests.collapseWorks, "skipped: this kernel does not collapse memory into huge pages (MADV_COLLAPSE, Linux 6.1, THP not 'never')"))
    func collapseKeepsTheBytesAndCoversWholeHugePages() throws {
        let arena = WeightArena(collapses: true)
        // 2.5 huge pages of copies: two whole ones can be collapsed
        let pieces = (0..<5).compactMap { _ in InterleavedWeights(byteCount: WeightArena.hugePageBytes / 2, arena: arena) }
        #expect(pieces.count == 5)
        for (i, piece) in pieces.enumerated() { memset(piece.bytes, Int32(i + 1), piece.byteCount) }
        #expect(arena.collapse() == 2 * WeightArena.hugePageBytes)
        for (i, piece) in pieces.enumerated() {
            let bytes = UnsafeRawBufferPointer(start: piece.bytes, count: piece.byteCount)
            #expect(bytes.allSatisfy { $0 == UInt8(i + 1) })
        }
        #expect(WeightArena(collapses: false).collapse() == 0)
    }
}

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

    @Test func anExpectedSizeMakesTheNextChunkHoldItAll() throws {
        let arena = WeightArena(collapses: false)
        let piece = WeightArena.chunkBytes / 3 + 1
        arena.expect(WeightArena.footprint(4 * piece, copies: 4))
        let pieces = try (0..<4).map { _ in try #require(arena.allocate(piece)) }
        // four pieces of more than a third of a usual chunk, all in the first one
        #expect(pieces.allSatisfy { $0.chunk === pieces[0].chunk })
        #expect(pieces[0].chunk.byteCount % WeightArena.hugePageBytes == 0)
        // the expectation is spent: the next chunk is a usual one
        let next = try #require(arena.allocate(piece))
        #expect(next.chunk !== pieces[0].chunk)
        #expect(next.chunk.byteCount == WeightArena.chunkBytes)
    }

    /// The kernel's flags of the mapping holding `address` (`VmFlags` in /proc/self/smaps).
    static func mappingFlags(_ address: UnsafeMutableRawPointer) -> [String]? {
        // read to the end: the file's size reads as 0, so a sized read gets nothing
        guard let data = FileHandle(forReadingAtPath: "/proc/self/smaps")?.readDataToEndOfFile(),
              let smaps = String(data: data, encoding: .utf8) else { return nil }
        let target = UInt(bitPattern: Int(bitPattern: address))
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            } else if inside, fields.first == "VmFlags:" {
                return fields.dropFirst().map(String.init)
            }
        }
        return nil
    }

    /// Whether this kernel takes `MADV_HUGEPAGE` (THP built in and not "never").
    static let hugePageAdviceWorks: Bool = {
        let size = 2 << 20
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return false }
        defer { munmap(raw, size) }
        return madvise(raw, size, Int32(MADV_HUGEPAGE)) == 0
    }()

    @Test(.enabled(if: WeightArenaTests.hugePageAdviceWorks, "skipped: this kernel takes no MADV_HUGEPAGE (THP off or 'never')"))
    func onlyTheLayoutThreadsArenaAsksForHugePagesAtFault() throws {
        let layoutThreads = WeightArena(collapses: true, faultsHugePages: true)
        let load = WeightArena(collapses: true)
        let off = WeightArena(collapses: false, faultsHugePages: true)
        let a = try #require(InterleavedWeights(byteCount: WeightArena.hugePageBytes, arena: layoutThreads))
        let b = try #require(InterleavedWeights(byteCount: WeightArena.hugePageBytes, arena: load))
        let c = try #require(InterleavedWeights(byteCount: WeightArena.hugePageBytes, arena: off))
        for (i, copy) in [a, b, c].enumerated() { memset(copy.bytes, Int32(i + 1), copy.byteCount) }
        // "hg": the mapping was advised MADV_HUGEPAGE
        #expect(try #require(Self.mappingFlags(a.bytes)).contains("hg"))
        #expect(try !#require(Self.mappingFlags(b.bytes)).contains("hg"))
        #expect(!off.faultsHugePages)
        #expect(try !#require(Self.mappingFlags(c.bytes)).contains("hg"))
        let bytes = UnsafeRawBufferPointer(start: a.bytes, count: a.byteCount)
        #expect(bytes.allSatisfy { $0 == 1 })
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

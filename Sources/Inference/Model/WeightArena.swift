import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The memory a model's interleaved copies (`InterleavedWeights`) live in:
/// consecutive, 2 MiB-aligned chunks, so that once the copies are made
/// (`collapse`, on the layout thread after the model is ready) the kernel
/// can back them with transparent huge pages.
///
/// Why: a decode step streams every weight once. On 4 KiB pages that is a
/// TLB miss every 4 KiB of every matrix; on 2 MiB pages, one per 512 of
/// them. Each matrix in a mapping of its own could not be backed by huge
/// pages at all (an MoE expert's matrices are 288 KiB), hence the chunks.
///
/// Copies made during the load (and an expert's on its first pick, on the
/// request path) are not given huge pages at fault time (`MADV_HUGEPAGE`):
/// with Debian's `defrag=madvise`, a fault then compacts memory in place
/// when no free huge page is at hand, which made a load 65-195 ms longer.
/// `MADV_COLLAPSE` (Linux 6.1) does the same work on the layout thread
/// while the model serves; on older kernels, or with THP off, it fails and
/// the pages stay as they are.
///
/// The copies the layout thread itself makes (a large model's matrices, an
/// MoE's experts) live in an arena of their own that does ask at fault
/// time (`faultsHugePages`): a stall there holds up no request, and the
/// collapse would copy every byte a second time. On the AVX2 VM of
/// session 25 (1 GB of a 64-expert Q4_K_M file's copies, one thread,
/// medians of four) the layout after ready took 0.53 s instead of 1.24
/// (the collapse's runs swung 1.2-4.7 s), its system time 0.34 s instead
/// of 0.97, and 976 MB of the copies were on huge pages instead of 924
/// (docs/performance.md, item 50).
final class WeightArena: @unchecked Sendable {
    static let hugePageBytes = 2 << 20
    /// Bytes a new chunk reserves (address space; pages are faulted in as
    /// copies are written, and only the written part is collapsed).
    static let chunkBytes = 32 << 20

    /// One reservation; unmapped with the last copy in it.
    final class Chunk: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let byteCount: Int
        private let mapping: UnsafeMutableRawPointer
        private let mappedBytes: Int

        /// `faultsHugePages`: ask for huge pages when the chunk's pages are first written.
        init?(byteCount: Int, faultsHugePages: Bool = false) {
            // Over-reserve by a huge page to align the start.
            let mappedBytes = byteCount + WeightArena.hugePageBytes
            guard let mapping = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  mapping != MAP_FAILED else { return nil }
            self.mapping = mapping
            self.mappedBytes = mappedBytes
            base = mapping + WeightArena.padding(Int(bitPattern: mapping), to: WeightArena.hugePageBytes)
            self.byteCount = byteCount
            // EINVAL with THP "never" or off in the kernel: ordinary pages then
            if faultsHugePages { _ = madvise(base, byteCount, Int32(MADV_HUGEPAGE)) }
        }

        deinit { munmap(mapping, mappedBytes) }
    }

    /// Whether `collapse` asks for huge pages (`MOED_HUGE_PAGES=off` turns it
    /// off, for measuring what they bring).
    let collapses: Bool
    /// Whether new chunks get huge pages at fault time (see above; only
    /// with `collapses`, so `MOED_HUGE_PAGES=off` turns both off).
    let faultsHugePages: Bool
    private let lock = NSLock()
    // Guarded by lock.
    /// The chunk copies are carved from now (the last of `filled`, held).
    private var current: Chunk?
    /// Every chunk with copies in it, and the bytes handed out of it.
    private var filled: [(chunk: Weak, used: Int)] = []
    /// Bytes the next chunk reserves at least (`expect`).
    private var expected = 0

    init(collapses: Bool = WeightArena.collapsesByDefault, faultsHugePages: Bool = false) {
        self.collapses = collapses
        self.faultsHugePages = collapses && faultsHugePages
    }

    static var collapsesByDefault: Bool {
        ProcessInfo.processInfo.environment["MOED_HUGE_PAGES"].map { !["off", "0", "false", "no"].contains($0) } ?? true
    }

    /// Whether no copy was ever allocated here.
    var isEmpty: Bool { lock.withLock { filled.isEmpty } }

    /// `byteCount` bytes starting on a page boundary (so `release` can give
    /// back exactly the pages of one copy), and the chunk they are in; nil
    /// when the memory cannot be had.
    func allocate(_ byteCount: Int) -> (bytes: UnsafeMutableRawPointer, chunk: Chunk)? {
        guard byteCount > 0 else { return nil }
        let size = byteCount + Self.padding(byteCount, to: Self.pageBytes)
        return lock.withLock {
            if current == nil || filled[filled.count - 1].used + size > current!.byteCount {
                let reserve = max(Self.chunkBytes, size + Self.padding(size, to: Self.hugePageBytes))
                let wanted = expected + Self.padding(expected, to: Self.hugePageBytes)
                expected = 0
                // the expected size is address space only; if even that cannot be had, a chunk as usual
                guard let chunk = (wanted > reserve ? Chunk(byteCount: wanted, faultsHugePages: faultsHugePages) : nil)
                    ?? Chunk(byteCount: reserve, faultsHugePages: faultsHugePages) else { return nil }
                current = chunk
                filled.append((Weak(chunk), 0))
            }
            let chunk = current!, last = filled.count - 1
            let bytes = chunk.base + filled[last].used
            filled[last].used += size
            return (bytes, chunk)
        }
    }

    /// Makes the next chunk large enough for `byteCount` bytes of copies
    /// (their sizes each rounded up to a page): the layout thread's whole
    /// work, so that its copies fill one chunk. With huge pages at fault
    /// time, a chunk's last, partly filled huge page is resident whole, and
    /// 32 MiB chunks left ~1 MB of zeros each: 25 MB more resident for the
    /// 1.5B Q4_K_M file's 876 MB of copies.
    func expect(_ byteCount: Int) {
        lock.withLock { expected = max(0, byteCount) }
    }

    /// Bytes `count` copies of `byteCount` bytes in all take here at most (each starts on a page).
    static func footprint(_ byteCount: Int, copies count: Int) -> Int { byteCount + count * pageBytes }

    /// Gives back the whole pages of a copy that is no longer used (its chunk
    /// may hold other copies still).
    static func release(_ bytes: UnsafeMutableRawPointer, byteCount: Int) {
        let length = byteCount - byteCount % pageBytes
        if length > 0 { _ = madvise(bytes, length, Int32(MADV_DONTNEED)) }
    }

    /// Asks the kernel to back every whole huge page of the copies made so
    /// far with a huge page, and returns how many bytes it did. Takes a few
    /// ms per 10 MB (it copies them); run it off the request path.
    @discardableResult
    func collapse() -> Int {
        guard collapses else { return 0 }
        let chunks = lock.withLock { filled.compactMap { entry in entry.chunk.chunk.map { ($0, entry.used) } } }
        var done = 0
        for (chunk, used) in chunks {
            let length = used - used % Self.hugePageBytes
            // MADV_COLLAPSE; EINVAL on kernels before 6.1 or with THP off
            if length > 0, madvise(chunk.base, length, 25) == 0 { done += length }
        }
        return done
    }

    private static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    private static func padding(_ value: Int, to alignment: Int) -> Int {
        (alignment - value % alignment) % alignment
    }

    private struct Weak {
        weak var chunk: Chunk?
        init(_ chunk: Chunk) { self.chunk = chunk }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes of one model's private weight copies alive now, for its memory
/// figures (`Transformer.weightBytes`). Written while the model loads, on
/// the thread repacking its layout after load, and when an expert is
/// repacked; read from any thread.
final class CopyLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    var bytes: Int { lock.withLock { total } }
    func add(_ count: Int) { lock.withLock { total += count } }
}

/// A private copy of a weight matrix (repacked at load, `Linear.interleavedCopy`):
/// its pages given back with the last `Linear` holding it.
final class InterleavedWeights: @unchecked Sendable {
    // Written once while repacking, read-only afterwards.
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int
    private let ledger: CopyLedger?
    /// The arena chunk holding `bytes` (kept mapped while this copy lives), or nil for a mapping of its own.
    private let chunk: WeightArena.Chunk?

    /// In `arena` (huge pages once collapsed), or in a mapping of its own
    /// without one. nil if the memory cannot be had (the matrix then stays
    /// as mapped).
    init?(byteCount: Int, ledger: CopyLedger? = nil, arena: WeightArena? = nil) {
        guard byteCount > 0 else { return nil }
        if let arena {
            guard let (bytes, chunk) = arena.allocate(byteCount) else { return nil }
            self.bytes = bytes
            self.chunk = chunk
        } else {
            guard let bytes = Self.map(byteCount) else { return nil }
            self.bytes = bytes
            chunk = nil
        }
        self.byteCount = byteCount
        self.ledger = ledger
        ledger?.add(byteCount)
    }

    private static func map(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        // Ordinary pages, faulted in as the repack writes them. Supplying
        // fresh pages is most of a repack's time (SmolLM2's 66 MB: about
        // 26 ms of page faults on the development VM, 15 ms of copying).
        // MAP_POPULATE halved the faults but holds the address-space lock
        // while it fills, stalling the tokenizer built beside the
        // transformer (LanguageModel), so the load took longer overall;
        // huge pages at fault time were quick when free ones were at hand
        // and took 65-195 ms when the kernel had to compact memory first
        // (hence `WeightArena.collapse`, after load).
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        guard let address = mmap(nil, byteCount, PROT_READ | PROT_WRITE, flags, -1, 0), address != MAP_FAILED else {
            return nil
        }
        return address
    }

    deinit {
        ledger?.add(-byteCount)
        if chunk != nil { WeightArena.release(bytes, byteCount: byteCount) } else { munmap(bytes, byteCount) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private copy of a weight matrix (repacked at load, `Linear.interleaved`):
/// page-aligned, so it occupies whole pages of its own, and freed with the
/// last `Linear` holding it.
final class InterleavedWeights: @unchecked Sendable {
    // Written once while repacking, read-only afterwards.
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int

    /// nil if the memory cannot be had (the matrix then stays as mapped).
    init?(byteCount: Int) {
        guard byteCount > 0 else { return nil }
        let page = max(64, Int(sysconf(Int32(_SC_PAGESIZE))))
        var address: UnsafeMutableRawPointer?
        guard posix_memalign(&address, page, byteCount) == 0, let address else { return nil }
        bytes = address
        self.byteCount = byteCount
    }

    deinit { free(bytes) }
}

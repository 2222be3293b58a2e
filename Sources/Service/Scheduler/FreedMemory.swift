#if os(Linux)
import Glibc

/// glibc's `int malloc_trim(size_t pad)`, which the Glibc module does not
/// export (<malloc.h> is not in its umbrella).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Gives the pages the allocator keeps free back to the system, after a
/// tier's model is closed. The model's tokenizer and buffers were built on
/// threads of their own (the load's, the lane's), so glibc holds their
/// freed memory in per-thread arenas, which it rarely trims by itself: in
/// the bench, moed's RSS beyond the file and the KV grew 46 → 64 → 69 MiB
/// over three rounds of loading and unloading a second SmolLM2 tier.
enum FreedMemory {
    static func release() {
        #if os(Linux)
        if glibcAllocates { _ = glibcMallocTrim(0) }
        #endif
    }

    #if os(Linux)
    /// Whether `malloc` is glibc's own. When another allocator stands in
    /// (a sanitizer's runtime, or jemalloc/tcmalloc through LD_PRELOAD),
    /// glibc's arenas were never set up and `malloc_trim` reads a null
    /// top chunk: under ThreadSanitizer moed died of SIGSEGV in `mtrim`
    /// on a tier's unload.
    static let glibcAllocates: Bool = {
        guard let libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD) else { return false }
        defer { dlclose(libc) }
        guard let own = dlsym(libc, "malloc"), let used = dlsym(nil, "malloc") else {
            return false
        }
        return own == used
    }()
    #endif
}

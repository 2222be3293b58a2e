#if os(Linux)
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
        _ = glibcMallocTrim(0)
        #endif
    }
}

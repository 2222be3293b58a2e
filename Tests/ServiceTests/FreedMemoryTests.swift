import Testing
import TestSupport
@testable import Service

/// `FreedMemory.release` trims glibc's arenas only when glibc's malloc is the
/// one in use: under a sanitizer (or an LD_PRELOADed allocator) glibc's
/// arenas were never set up, and `malloc_trim` died of SIGSEGV in TSan runs.
@Suite("Freed memory goes back only through the allocator in use")
struct FreedMemoryTests {
    @Test("glibc's malloc is recognised in a plain build and not under a sanitizer; release() is safe either way")
    func recognisesTheAllocator() {
        #expect(FreedMemory.glibcAllocates == !SanitizerRun.isActive)
        FreedMemory.release()
        FreedMemory.release()
    }
}

import Foundation
import Testing
@testable import Service

/// `ModelFile` on real files: what counts as the file having changed, and
/// which faults count as its own. Serialized: a load check counts the
/// faults another test makes at the same time.
@Suite("Model file identity", .serialized)
struct ModelFileIdentityTests {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    func makeFile(pages: Int, byte: UInt8 = 0xAB) throws -> String {
        let path = NSTemporaryDirectory() + "model-file-\(getpid())-\(UUID().uuidString.prefix(8))"
        try Data(repeating: byte, count: pages * page).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a file replaced by rename is still the one held, but no longer what the path names")
    func rename() throws {
        let path = try makeFile(pages: 1)
        defer { unlink(path) }
        let file = try #require(ModelFile(path: path))
        #expect(file.change() == nil)
        let other = try makeFile(pages: 2)
        try #require(Glibc.rename(other, path) == 0)
        #expect(file.change() == nil)
        let error = try #require(throws: StepError.self) { try file.confirmLoaded(faultsSince: FaultGuard.count) }
        #expect(error.description == "model file changed during load (the path now names another file)")
    }

    @Test("a write in place is a change: size, or mtime when the size stays")
    func writeInPlace() throws {
        let path = try makeFile(pages: 1)
        defer { unlink(path) }
        let file = try #require(ModelFile(path: path))
        try file.confirmLoaded(faultsSince: FaultGuard.count)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([1]))
        #expect(file.change() == "size \(page) → \(page + 1) bytes")
        try handle.truncate(atOffset: UInt64(page))
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(file.change() == "written in place")
        try handle.close()
    }

    @Test("a nonexistent path or a directory is not watched (the plugin says why it cannot open it)")
    func notWatched() {
        #expect(ModelFile(path: "/nonexistent/model.gguf") == nil)
        #expect(ModelFile(path: NSTemporaryDirectory()) == nil)
    }

    /// Maps `path` read-only, as an engine plugin maps its weights.
    func map(_ path: String, pages: Int) throws -> (UnsafeMutableRawPointer, Int32) {
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        let address = try #require(mmap(nil, pages * page, PROT_READ, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        return (address, fd)
    }

    @Test("a fault in the held file's pages is a problem even when size and mtime look the same; faults in another file are not")
    func faults() throws {
        #expect(FaultGuard.install())
        let otherPages = 1100  // more faults than the guard's record of recent ones holds
        let path = try makeFile(pages: 2), otherPath = try makeFile(pages: otherPages)
        defer { unlink(path); unlink(otherPath) }
        let (mine, fd) = try map(path, pages: 2)
        let (theirs, otherFD) = try map(otherPath, pages: otherPages)
        defer { munmap(mine, 2 * page); munmap(theirs, otherPages * page); close(fd); close(otherFD) }
        let file = try #require(ModelFile(path: path))
        try file.confirmLoaded(faultsSince: FaultGuard.count)  // notes where the file is mapped

        // Another file truncated under its mapping: not this file's problem.
        var mark = file.faultCount()
        let before = FaultGuard.count
        try #require(ftruncate(otherFD, 0) == 0)
        let read = (0..<otherPages).reduce(0) { $0 + Int(theirs.load(fromByteOffset: $1 * page, as: UInt8.self)) }
        #expect(read == 0)
        #expect(FaultGuard.count >= before + UInt64(otherPages))
        #expect(file.problem(since: mark) == nil)

        // This file truncated and grown back with its old mtime: only the fault tells.
        var original = stat()
        try #require(fstat(fd, &original) == 0)
        mark = file.faultCount()
        try #require(ftruncate(fd, off_t(page)) == 0)
        #expect(mine.load(fromByteOffset: page + 8, as: UInt8.self) == 0)
        try #require(ftruncate(fd, off_t(2 * page)) == 0)
        var times = [original.st_atim, original.st_mtim]
        try #require(futimens(fd, &times) == 0)
        #expect(file.change() == nil)
        #expect(file.problem(since: mark) == "a read of the mapped file faulted")
    }
}

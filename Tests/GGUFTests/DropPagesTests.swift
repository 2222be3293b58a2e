import Foundation
import Testing
@testable import GGUF

/// Dropping the pages of part of a tensor (an expert's slice, once repacked)
/// gives back memory only: the bytes read the same afterwards, and a range
/// that strays outside the tensor is cut or ignored, never a crash.
@Suite("Dropping a tensor slice's pages")
struct DropPagesTests {
    static let count = 1 << 18   // 256 KiB: many pages

    static func writer() throws -> GGUFWriter {
        var writer = try GGUFWriter()
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 % 253) }
        try writer.addTensor(name: "stack", shape: [count], type: .i8, bytes: bytes)
        return writer
    }

    static func dropAndCheck(_ file: GGUFFile) throws {
        let t = try #require(file.tensor(named: "stack"))
        let before = Array(file.data(of: t))
        for (offset, count) in [(5000, 100_000), (0, count), (count - 10, 1 << 40), (-4096, 8192), (count, 4096), (100, 0)] {
            file.dropPages(of: t, offset: offset, count: count)
        }
        #expect(Array(file.data(of: t)) == before)
        #expect(before[252] == 252 && before[253] == 0)
    }

    @Test("a mapped file's bytes read the same after its pages are dropped")
    func mapped() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drop-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.writer().write(toFile: path)
        try Self.dropAndCheck(try GGUFFile(path: path))
    }

    @Test("a file held in memory is left alone")
    func inMemory() throws {
        try Self.dropAndCheck(try GGUFFile(bytes: Self.writer().serialized()))
    }
}

/// The resident figure a mapped file reports, read from /proc/self/smaps.
@Suite("A mapping's resident bytes")
struct ResidentBytesTests {
    @Test("the Rss line of the mapping that starts at the address, not of its neighbours")
    func parse() throws {
        let smaps = Array("""
            55d0a000-55d0b000 r--p 00000000 08:01 42 /usr/bin/moed
            Size:                  4 kB
            Rss:                   4 kB
            7f00ab000000-7f00ac000000 r--p 00000000 08:01 77 /models/a.gguf
            Size:              16384 kB
            KernelPageSize:        4 kB
            Rss:                1234 kB
            7f00ad000000-7f00ae000000 rw-p 00000000 00:00 0
            Rss:                  99 kB
            """.utf8)
        #expect(GGUFStorage.rss(ofMappingAt: 0x7f00ab000000, smaps: smaps) == 1234 * 1024)
        #expect(GGUFStorage.rss(ofMappingAt: 0x55d0a000, smaps: smaps) == 4096)
        #expect(GGUFStorage.rss(ofMappingAt: 0x7f00ab00, smaps: smaps) == nil, "a prefix of an address is not the address")
        #expect(GGUFStorage.rss(ofMappingAt: 0x1000, smaps: Array("1000-2000 r--p\nRss: junk kB\n".utf8)) == nil)
    }

    @Test("a mapped file's figure is read from this process's smaps, and grows as its pages are read")
    func live() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rss-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DropPagesTests.writer().write(toFile: path)
        let file = try GGUFFile(path: path)
        let t = try #require(file.tensor(named: "stack"))
        let sum = file.data(of: t).reduce(0) { $0 &+ Int($1) }  // touch every page
        #expect(sum > 0)
        let resident = try #require(file.residentBytes, "smaps has the mapping")
        #expect(resident >= DropPagesTests.count, "every page of the tensor was read: \(resident)")
    }
}

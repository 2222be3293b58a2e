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

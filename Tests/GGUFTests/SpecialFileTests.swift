import Foundation
import Testing
@testable import GGUF

@Suite("Paths that are not GGUF files")
struct SpecialFileTests {
    @Test("A FIFO is refused at once instead of waiting for a writer")
    func fifo() throws {
        let path = NSTemporaryDirectory() + "moed-gguf-fifo-\(getpid())"
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: path) }
        #expect(error?.description.contains("not a regular file") == true)
    }

    @Test("A directory and a missing file are refused with their path")
    func directoryAndMissing() throws {
        let dir = NSTemporaryDirectory()
        #expect(throws: GGUFError.self) { try GGUFFile(path: dir) }
        let missing = dir + "moed-no-such-file.gguf"
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: missing) }
        #expect(error?.description.contains(missing) == true)
    }
}

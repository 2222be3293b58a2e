import Foundation
import FuzzTargets
import Testing

/// Inputs saved by tools/fuzz/run.sh (a crash or hang once found, or a
/// hostile input worth keeping), replayed through the same surface the
/// fuzzer runs. Each must come back as a clean error or a load: a crash
/// ends the test process, a hang never finishes. To add one: copy the
/// `.bin` from the fuzz out folder into the surface's folder here, named
/// for what it does.
@Suite("Fuzz regressions")
struct ReplayTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

    static func inputs(_ surface: String) -> [String] {
        let directory = folder + "/" + surface
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory + "/" + $0 }
    }

    static func replay(_ path: String, _ run: ([UInt8]) -> FuzzOutcome) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        if case .refused(let why) = run(bytes) {
            #expect(!why.isEmpty, "\(path): refused without saying why")
        }
    }

    @Test("every saved GGUF input is refused with an error or loads, without crashing")
    func gguf() throws {
        let inputs = Self.inputs("gguf")
        try #require(!inputs.isEmpty, "no saved GGUF inputs in \(Self.folder)/gguf")
        for path in inputs { try Self.replay(path, GGUFSurface.run) }
    }

    @Test("every saved config input is refused with an error or parses, without crashing")
    func config() throws {
        let inputs = Self.inputs("config")
        try #require(!inputs.isEmpty, "no saved config inputs in \(Self.folder)/config")
        for path in inputs { try Self.replay(path, ConfigSurface.run) }
    }
}

import Foundation
import GGUF
import Testing
import TestSupport

/// `moectl inspect FILE` says whether moed can run the file and what is
/// missing, from the code that owns each answer.
@Suite("moectl inspect: can moed run this file")
struct InspectSupportTests {
    private func inspect(_ path: String, json: Bool = false) throws -> (code: Int32, out: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Build.path("moectl"))
        process.arguments = ["inspect"] + (json ? ["--json"] : []) + [path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("a file moed runs says so and names the file's own template as the chat renderer")
    func runnable() throws {
        let run = try inspect(try SyntheticModel().write(named: "inspect-runnable"))
        #expect(run.code == 0)
        #expect(run.out.contains("runnable       yes\n"), "\(run.out)")
        #expect(run.out.contains("chat renderer  the file's own chat template (Jinja)"), "\(run.out)")
    }

    @Test("an unknown architecture and an unrunnable template are each named")
    func architectureAndTemplate() throws {
        var model = SyntheticModel()
        model.architecture = "gemma9"
        model.vocabulary.chatTemplate = "{% include 'x' %}"
        let path = try model.write(named: "inspect-gemma9")
        let run = try inspect(path)
        #expect(run.code == 0)
        #expect(run.out.contains("runnable       no"), "\(run.out)")
        #expect(run.out.contains("architecture 'gemma9' (moed runs: llama"), "\(run.out)")
        #expect(run.out.contains("chat template:") && run.out.contains("{% include %}"), "\(run.out)")
        let json = try inspect(path, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let support = try #require(object["support"] as? [String: Any])
        #expect(support["runnable"] as? Bool == false)
        #expect((support["missing"] as? [String])?.count == 2)
    }

    @Test("an unknown pre-tokenizer is named as what is missing")
    func preTokenizer() throws {
        var model = SyntheticModel()
        model.vocabulary.preTokenizer = "no-such-pre"
        let path = try model.write(named: "inspect-pre")
        let run = try inspect(path)
        #expect(run.out.contains("runnable       no"), "\(run.out)")
        #expect(run.out.contains("tokenizer: unknown or unsupported pre-tokenizer type: 'no-such-pre'"), "\(run.out)")
    }
}

import Foundation
import GGUF
import Testing
import TestSupport

/// What one run of the real moectl binary did.
private struct Run {
    var exitedNormally: Bool
    var code: Int32
    var out: [UInt8]
    var err: [UInt8]
    var outText: String { String(decoding: out, as: UTF8.self) }
}

private func inspect(_ arguments: [String]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Build.path("moectl"))
    process.arguments = ["inspect"] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(exitedNormally: process.terminationReason == .exit, code: process.terminationStatus,
               out: Array(output), err: Array(errors))
}

/// The bytes a terminal acts on: C0 controls but newline, DEL, and C1
/// controls (U+0080–U+009F, UTF-8 C2 80–C2 9F).
private func rawControls(_ bytes: [UInt8]) -> [String] {
    var found: [String] = []
    for (i, byte) in bytes.enumerated() {
        if (byte < 0x20 && byte != 0x0A) || byte == 0x7F { found.append(String(format: "0x%02x at %d", byte, i)) }
        if byte == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) {
            found.append(String(format: "U+%04X at %d", Int(bytes[i + 1]), i))
        }
    }
    return found
}

@Suite("moectl inspect on hostile files")
struct InspectCommandTests {
    static let hostileArchitecture = "llama\u{1B}[2J\u{1B}]0;owned\u{07}"
    static let hostileTensor = "evil\u{1B}[31m\u{7F}\u{9B}1m\ttab"

    @Test("a float hyperparameter integral and above Int.max prints, in text and JSON, instead of trapping",
          arguments: [(Float(1e20), Float(1e-5)), (Float(10_000), Float(3e38))])
    func hugeFloat(ropeBase: Float, rmsEpsilon: Float) throws {
        var model = SyntheticModel()
        model.ropeBase = ropeBase
        model.rmsEpsilon = rmsEpsilon
        let path = try model.write(named: "huge-float")
        let text = try inspect([path])
        #expect(text.exitedNormally && text.code == 0, "\(String(decoding: text.err, as: UTF8.self))")
        let huge = max(ropeBase, rmsEpsilon)
        #expect(text.outText.contains(String(Double(huge))), "\(text.outText)")
        let json = try inspect(["--json", path])
        #expect(json.exitedNormally && json.code == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out)) as? [String: Any])
        let hyper = try #require(object["hyperparameters"] as? [String: Double])
        // JSON text round-trips doubles to within a rounding step, not always bit for bit.
        let close = { (a: Double?, b: Float) in a.map { abs($0 - Double(b)) <= Double(b).ulp * 4 } == true }
        #expect(close(hyper["rope_freq_base"], ropeBase), "\(hyper)")
        #expect(close(hyper["rms_epsilon"], rmsEpsilon), "\(hyper)")
    }

    private func hostileFile() throws -> String {
        var model = SyntheticModel()
        model.architecture = Self.hostileArchitecture
        var writer = try model.makeWriter()
        try writer.addTensor(name: Self.hostileTensor, shape: [4], floats: [0, 1, 2, 3])
        let path = TemporaryFiles.path("hostile-names.gguf")
        try writer.write(toFile: path)
        return path
    }

    @Test("control characters in metadata and tensor names print escaped in text")
    func escapedText() throws {
        let run = try inspect(["--tensors", try hostileFile()])
        #expect(run.exitedNormally && run.code == 0)
        #expect(rawControls(run.out) == [])
        #expect(run.outText.contains("architecture   llama\\x1b[2J\\x1b]0;owned\\x07"))
        #expect(run.outText.contains("evil\\x1b[31m\\x7f\\u{9b}1m\\ttab"))
    }

    @Test("control characters print as valid JSON escapes that decode to the file's text")
    func escapedJSON() throws {
        let run = try inspect(["--json", "--tensors", try hostileFile()])
        #expect(run.exitedNormally && run.code == 0)
        #expect(rawControls(run.out) == [])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.out)) as? [String: Any])
        #expect(object["architecture"] as? String == Self.hostileArchitecture)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.contains { $0["name"] as? String == Self.hostileTensor })
    }

    @Test("a parse error quoting a hostile key prints it escaped and exits with an error, not a trap")
    func escapedError() throws {
        // Header, then one key whose value type (99) does not exist.
        var bytes = Array("GGUF".utf8) + withUnsafeBytes(of: UInt32(3).littleEndian, Array.init)
        bytes += withUnsafeBytes(of: UInt64(0).littleEndian, Array.init) + withUnsafeBytes(of: UInt64(1).littleEndian, Array.init)
        let key = Array("k\u{1B}[2J\u{9B}".utf8)
        bytes += withUnsafeBytes(of: UInt64(key.count).littleEndian, Array.init) + key
        bytes += withUnsafeBytes(of: UInt32(99).littleEndian, Array.init)
        let path = TemporaryFiles.path("bad-key.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let run = try inspect([path])
        #expect(run.exitedNormally && run.code != 0)
        #expect(rawControls(run.err) == [])
        #expect(String(decoding: run.err, as: UTF8.self).contains("k\\x1b[2J\\u{9b}"))
    }
}

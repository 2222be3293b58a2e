import Foundation
import Testing

/// The Python client and the package root, found from this file's path.
enum PythonClient {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let python = packageRoot + "/.venv/bin/python"
    static let script = packageRoot + "/Tests/EndToEndTests/Python/moed_client.py"

    /// The venv with grpcio-tools and protobuf (scripts/ installs them).
    static var isAvailable: Bool {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import grpc_tools, google.protobuf"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

@Suite("A Python client generated from Protos/", .serialized)
struct PythonClientTests {
    @Test("speaks to moed with code from grpcio-tools and the framing rule alone",
          .enabled(if: PythonClient.isAvailable, "needs .venv with grpcio-tools and protobuf"))
    func python() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PythonClient.python)
        process.arguments = [PythonClient.script, PythonClient.packageRoot + "/Protos", scratch.socket, "abc"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let seen = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        #expect(seen["status_final"] as? Bool == true)
        #expect(seen["pid"] as? Int == Int(daemon.pid))
        #expect(seen["tiers"] as? [String] == ["haiku", "opus"])
        #expect(seen["kv_types"] as? [String] == ["f16", "f16"])
        #expect(seen["memory_split"] as? Bool == true)
        #expect(seen["text"] as? String == toyContinuation(promptBytes: 3, count: 5))
        #expect((seen["chunks"] as? Int ?? 0) >= 1)
        #expect(seen["finish_reason"] as? String == "length")
        #expect(seen["tier"] as? String == "haiku")
        // Log-probabilities: one entry per token, the greedy choice is the
        // likeliest alternative, all ≤ 0, alternatives most likely first.
        let tokens = seen["tokens"] as? [Int] ?? []
        let logprobs = seen["logprobs"] as? [[String: Any]] ?? []
        #expect(tokens.count == 5 && logprobs.count == 5, "\(seen)")
        for (token, entry) in zip(tokens, logprobs) {
            let top = (entry["top"] as? [[Double]]) ?? []
            let logprob = try #require(entry["logprob"] as? Double)
            #expect(entry["token"] as? Int == token && logprob <= 0)
            #expect(top.count == 2 && Int(top[0][0]) == token && top[0][1] == logprob && top[0][1] >= top[1][1], "\(entry)")
        }
        #expect(seen["too_many_logprobs"] as? String == "INVALID_ARGUMENT")
        #expect((seen["cached_prompt_tokens"] as? Int ?? 0) > 0)
        #expect(seen["uncached_prompt_tokens"] as? Int == 0)
        #expect(seen["refused_code"] as? String == "NOT_FOUND")
        #expect(seen["garbage_code"] as? String == "INVALID_ARGUMENT")
        #expect(daemon.stop() == 0)
    }
}

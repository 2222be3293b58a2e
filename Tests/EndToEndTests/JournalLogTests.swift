import Foundation
import MoeClient
import Testing

/// moed's stderr as systemd's journal stream sees it: JOURNAL_STREAM names
/// the file stderr is (device:inode), so every line carries its priority.
@Suite("moed logs for journald", .serialized)
struct JournalLogTests {
    /// Runs moed with stderr on a file named by JOURNAL_STREAM, makes one
    /// generate call, stops it, and returns what it logged.
    func journal(logLevel: String) throws -> String {
        let scratch = Scratch()
        scratch.writeConfig()
        let config = try String(contentsOfFile: scratch.config, encoding: .utf8)
            .replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nlog_level = \"\(logLevel)\"\n")
        scratch.write("moed.toml", config)
        let logPath = scratch.write("stderr.log", "")
        let stderr = try #require(FileHandle(forWritingAtPath: logPath))
        var info = stat()
        #expect(fstat(stderr.fileDescriptor, &info) == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Build.path("moed"))
        process.arguments = ["--config", scratch.config]
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        environment["NOTIFY_SOCKET"] = nil
        process.environment = environment
        process.standardError = stderr
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        var client: MoeClient?
        for _ in 0..<200 where client == nil {  // bounded wait for the socket
            client = try? MoeClient(socketPath: scratch.socket)
            if client == nil { usleep(100_000) }
        }
        let connected = try #require(client, "moed did not listen")
        connected.setReceiveTimeout(seconds: 30)
        _ = try generate(connected, prompt: "abc", tier: "haiku", maxTokens: 3)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try String(contentsOfFile: logPath, encoding: .utf8)
    }

    @Test("every line starts with <N>; notices, info and debug lines carry their priorities and tier=/request=")
    func priorities() throws {
        let text = try journal(logLevel: "debug")
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.range(of: #"^<[2-7]>moed: "#, options: .regularExpression) != nil, "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("<5>moed: listening on") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("<6>moed: tier haiku ready") && $0.contains("tier=haiku") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("<7>moed: generate done") && $0.contains("request=") && $0.contains("tokens=3") },
                "\(text)")
    }

    @Test("log_level = \"warning\" keeps notices, info and debug out")
    func level() throws {
        let text = try journal(logLevel: "warning")
        #expect(!text.contains("listening on"), "\(text)")
        #expect(!text.contains("generate done"), "\(text)")
    }
}

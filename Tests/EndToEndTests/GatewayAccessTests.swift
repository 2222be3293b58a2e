import Foundation
import MoeAPI
import Testing

/// Runs curl with `arguments`; returns its exit code and what it printed.
func curl(_ arguments: [String]) throws -> (code: Int32, out: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s"] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// moegate's API keys, its refusal to listen openly without them, and
/// a client hanging up, driven with curl.
@Suite("moegate: keys, listeners and disconnects (curl)", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "skipped: needs /usr/bin/curl"))
struct GatewayAccessTests {
    @Test("listening beyond loopback without --api-keys is refused at start, naming the flag")
    func openListenerNeedsKeys() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Build.path("moegate"))
        process.arguments = ["--socket", "/nonexistent.sock", "--listen", "0.0.0.0:0"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains("--api-keys"), "\(text)")
    }

    @Test("with --api-keys: 401 in OpenAI's shape without a known key, served with one, keys re-read on SIGHUP")
    func apiKeys() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let keyFile = scratch.write("keys", "# gateway keys\nfirst-key\n")
        let gateway = try GatewayProcess(socket: scratch.socket, arguments: ["--api-keys", keyFile])
        let models = "http://127.0.0.1:\(gateway.port)/v1/models"
        let missing = try curl(["-w", "\n%{http_code}", models])
        #expect(missing.out.hasSuffix("\n401"))
        let body = try #require(try JSONSerialization.jsonObject(with: Data(missing.out.dropLast(4).utf8)) as? [String: Any])
        let error = try #require(body["error"] as? [String: Any], "not OpenAI's error shape: \(missing.out)")
        #expect(error["code"] as? String == "invalid_api_key")
        #expect(try curl(["-w", "%{http_code}", "-o", "/dev/null", "-H", "Authorization: Bearer first-key", models]).out == "200")
        #expect(try curl(["-w", "%{http_code}", "-o", "/dev/null", "http://127.0.0.1:\(gateway.port)/healthz"]).out == "200")
        scratch.write("keys", "second-key\n")
        kill(gateway.process.processIdentifier, SIGHUP)
        // The reload is asynchronous: wait (bounded) until the new key is let in.
        var admitted = false
        for _ in 0..<100 where !admitted {
            admitted = try curl(["-w", "%{http_code}", "-o", "/dev/null", "-H", "Authorization: Bearer second-key", models]).out == "200"
            if !admitted { usleep(100_000) }
        }
        #expect(admitted)
        #expect(try curl(["-w", "%{http_code}", "-o", "/dev/null", "-H", "Authorization: Bearer first-key", models]).out == "401")
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("a client that hangs up cancels its moed request, streamed or not", arguments: [true, false])
    func disconnectCancels(streamed: Bool) throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=20")
        let daemon = try DaemonProcess(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let request = #"{"model":"haiku","prompt":"abc","max_tokens":2000,"stream":\#(streamed)}"#
        // curl gives up after 1 s, long before 2000 tokens at 20 ms each (40 s).
        let cut = try curl(["--max-time", "1", "-H", "Content-Type: application/json", "-d", request,
                            "http://127.0.0.1:\(gateway.port)/v1/completions"])
        #expect(cut.code == 28, "curl should time out mid-answer")
        #expect(cut.out.hasPrefix("data: ") == streamed)
        let client = try daemon.client()
        var stats = TierStats()
        var active: UInt32 = 1
        // Bounded wait for moed to see the hang-up; a stream left running would hold the tier for 40 s.
        for _ in 0..<150 where active > 0 {
            let reply = try client.call(.status)
            guard case .status(let status)? = reply.result else { break }
            active = status.tiers.first { $0.name == "haiku" }?.activeRequests ?? 0
            if active > 0 { usleep(100_000) }
        }
        #expect(active == 0)
        if case .stats(let all)? = try client.call(.stats).result { stats = all.first { $0.name == "haiku" } ?? stats }
        #expect(stats.requests == 1)
        #expect(stats.completionTokens < 2000)
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("moegate outlives moed: 503 in OpenAI's shape while moed is down, served again once it is back")
    func moedRestarts() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let first = try DaemonProcess(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let base = "http://127.0.0.1:\(gateway.port)"
        #expect(try curl(["-w", "%{http_code}", "-o", "/dev/null", base + "/healthz"]).out == "200")
        #expect(first.stop() == 0)
        let health = try curl(["-w", "\n%{http_code}", base + "/healthz"])
        #expect(health.out.hasSuffix("\n503") && health.out.contains("unavailable"), "\(health.out)")
        let models = try curl(["-w", "\n%{http_code}", base + "/v1/models"])
        #expect(models.out.hasSuffix("\n503") && models.out.contains("moed_unavailable"), "\(models.out)")
        let metrics = try curl([base + "/metrics"])
        #expect(metrics.out.contains("moed_up 0"))
        unlink(scratch.directory + "/notify.sock")  // the stand-in for systemd's socket is made anew
        let second = try DaemonProcess(scratch)
        #expect(try curl(["-w", "%{http_code}", "-o", "/dev/null", base + "/v1/models"]).out == "200")
        #expect(gateway.stop() == 0)
        #expect(second.stop() == 0)
    }
}

import Foundation
import Testing
import MoeAPI
import MoeClient

/// The toy model recites this; after a raw prompt of n bytes (plus BOS)
/// it continues from text[n + 1].
let toyText = Array("Hello from the toy model. ")
func toyContinuation(promptBytes: Int, count: Int) -> String {
    String((0..<count).map { toyText[(promptBytes + 1 + $0) % toyText.count] })
}

@Suite("moed end to end", .serialized)
struct DaemonTests {
    @Test("moectl generate streams the toy model's text; --json has run's shape")
    func generateVerb() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let plain = try moectl(["generate", "--raw", "--max-tokens", "6", "abc"], socket: scratch.socket)
        #expect(plain.code == 0)
        #expect(plain.out == toyContinuation(promptBytes: 3, count: 6) + "\n")
        let json = try moectl(["generate", "--raw", "--json", "--max-tokens", "4", "abc"], socket: scratch.socket)
        let object = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect(object?["text"] as? String == toyContinuation(promptBytes: 3, count: 4))
        #expect(object?["finish_reason"] as? String == "length")
        #expect((object?["prompt_tokens"] as? [Int]) == [256, 97, 98, 99])
        #expect((object?["timings"] as? [String: Any])?["generated_tokens"] as? Int == 4)
        #expect(daemon.stop() == 0)
    }

    @Test("switching tiers while clients stream: no failed request, same pid, new calls on the new tier")
    func switchWhileStreaming() throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=5")
        let daemon = try DaemonProcess(scratch)
        let pidBefore = try statusOf(daemon).pid
        let failures = Counter()
        let tiersSeen = Locked<[String]>([])
        let group = DispatchGroup()
        for index in 0..<4 {
            DispatchQueue.global().async(group: group) {
                do {
                    let client = try daemon.client()
                    for round in 0..<3 {
                        let result = try generate(client, prompt: "p\(index)\(round)", maxTokens: 20)
                        tiersSeen.update { $0.append(result.summary.tier) }
                    }
                } catch {
                    failures.increment()
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.1)
        let use = try moectl(["use", "opus"], socket: scratch.socket)
        #expect(use.code == 0)
        group.wait()
        #expect(failures.value == 0)
        #expect(try statusOf(daemon).pid == pidBefore)
        #expect(try statusOf(daemon).defaultTier == "opus")
        #expect(try generate(daemon.client(), prompt: "after").summary.tier == "opus")
        #expect(tiersSeen.value.count == 12)
        #expect(daemon.stop() == 0)
    }

    @Test("Cancel ends a stream with CANCELLED and frees its slot")
    func cancelMidStream() throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=20")
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        var request = GenerateRequest()
        request.prompt = "x"
        request.maxTokens = 10_000
        let id = try client.send(.generate(request))
        var chunks = 0
        while chunks < 2 {
            if case .chunk = try client.receive().result { chunks += 1 }
        }
        let cancelID = try client.send(.cancel(targetID: id))
        var finals: [UInt64: Response] = [:]
        while finals.count < 2 {
            let response = try client.receive()
            if response.isFinal { finals[response.id] = response }
        }
        #expect(finals[id]?.error?.code == .cancelled)
        #expect(try #require(finals[cancelID]).error == nil)
        #expect(try statusOf(daemon).tiers.first { $0.name == "haiku" }?.activeRequests == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("a client that disconnects mid-stream frees its slot")
    func disconnectMidStream() throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=10")
        let daemon = try DaemonProcess(scratch)
        do {
            let client = try daemon.client()
            var request = GenerateRequest()
            request.prompt = "x"
            request.maxTokens = 10_000
            _ = try client.send(.generate(request))
            while true { if case .chunk = try client.receive().result { break } }
        }
        var active: UInt32 = 1
        for _ in 0..<100 where active != 0 {
            Thread.sleep(forTimeInterval: 0.02)
            active = try statusOf(daemon).tiers.first { $0.name == "haiku" }?.activeRequests ?? 1
        }
        #expect(active == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("garbage and oversize frames get an error and close; the daemon serves others")
    func hostileFrames() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let garbage = try daemon.client()
        try garbage.write([0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef])
        #expect(try garbage.receive().error?.code == .invalidArgument)
        let huge = try daemon.client()
        try huge.write([0x7f, 0xff, 0xff, 0xff])
        #expect(try huge.receive().error?.code == .resourceExhausted)
        #expect(try generate(daemon.client(), prompt: "ok").text == toyContinuation(promptBytes: 2, count: 8))
        #expect(daemon.stop() == 0)
    }

    @Test("a missing plugin and a wrong-ABI plugin are refused naming the step")
    func badPlugins() throws {
        let scratch = Scratch()
        let model = scratch.write("toy.txt", "abc")
        scratch.writeConfig(tiers: """
            [tiers.missing]
            plugin = "nosuchplugin"
            model = "\(model)"
            [tiers.future]
            plugin = "wrongabi"
            model = "\(model)"
            """)
        let daemon = try DaemonProcess(scratch)
        let missing = try moectl(["load", "missing"], socket: scratch.socket)
        #expect(missing.code == 2)
        #expect(missing.err.contains("libmoe_nosuchplugin.so not found"))
        let future = try moectl(["load", "future"], socket: scratch.socket)
        #expect(future.code == 2)
        #expect(future.err.contains("ABI version mismatch"))
        let plugins = try moectl(["plugins", "--json"], socket: scratch.socket)
        #expect(plugins.out.contains("\"name\":\"wrongabi\""))
        #expect(try generate(daemon.client(), prompt: "still").summary.tier == "haiku")
        #expect(daemon.stop() == 0)
    }

    @Test("a bad config on reload is refused naming the line; the running one keeps serving")
    func badReload() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let good = try String(contentsOfFile: scratch.config, encoding: .utf8)
        scratch.write("moed.toml", good + "\n[tiers.broken]\nplugin = \"toy\"\nmodel = \"m\"\ncontext = \"big\"\n")
        let reload = try moectl(["reload"], socket: scratch.socket)
        #expect(reload.code == 2)
        let badLine = good.split(separator: "\n", omittingEmptySubsequences: false).count + 4
        #expect(reload.err.contains("moed.toml:\(badLine): context:"))
        daemon.signal(SIGHUP)
        #expect(try statusOf(daemon).tiers.map(\.name) == ["haiku", "opus"])
        scratch.write("moed.toml", good.replacingOccurrences(of: "[tiers.opus]", with: "[tiers.sonnet]"))
        #expect(try moectl(["reload"], socket: scratch.socket).code == 0)
        #expect(try statusOf(daemon).tiers.map(\.name) == ["haiku", "sonnet"])
        #expect(daemon.stop() == 0)
    }

    @Test("a load that does not fit the memory budget is refused with the figures")
    func memoryBudget() throws {
        let scratch = Scratch()
        // A toy tier's estimate is 150000 + 2048 × 16 × 8 (its KV) + 1024 =
        // 413168; loaded and idle it counts 151024 (the toy does not report
        // memory, so no KV is counted until a request reserves it). Two fit
        // in 600000 now, so the budget is 500000: a second load (151024 +
        // 413168) must evict the idle tier, or be refused next to a pinned one.
        scratch.writeConfig(budget: "500000", toyKnobs: "bytes=150000")
        let daemon = try DaemonProcess(scratch)
        #expect(try moectl(["load", "haiku"], socket: scratch.socket).code == 0)
        _ = try generate(daemon.client(), prompt: "busy")  // haiku idle but evictable
        let second = try moectl(["load", "opus"], socket: scratch.socket)
        #expect(second.code == 0, "evicts idle haiku")
        let tiers = try statusOf(daemon).tiers
        #expect(tiers.first { $0.name == "haiku" }?.state == .unloaded)
        scratch.writeConfig(budget: "500000", tiers: "pinned = true", toyKnobs: "bytes=150000")
        #expect(try moectl(["reload"], socket: scratch.socket).code == 0)
        let refused = try moectl(["load", "haiku"], socket: scratch.socket)
        #expect(refused.code == 2)
        #expect(refused.err.contains("memory budget") && refused.err.contains("RESOURCE_EXHAUSTED"))
        #expect(daemon.stop() == 0)
    }

    @Test("SIGTERM lets a running stream finish, reports STOPPING=1 and exits 0")
    func drainOnTerm() throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=10")
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        var request = GenerateRequest()
        request.prompt = "x"
        request.maxTokens = 30
        let id = try client.send(.generate(request))
        while true { if case .chunk = try client.receive().result { break } }
        daemon.signal(SIGTERM)
        var final: Response?
        while final == nil {
            let response = try client.receive()
            if response.id == id && response.isFinal { final = response }
        }
        guard case .summary(let summary) = final?.result else { Issue.record("stream did not finish"); return }
        #expect(summary.completionTokens == 30)
        #expect(daemon.stop() == 0)
        #expect(daemon.notify.wait(for: "STOPPING=1", seconds: 5))
        #expect(!FileManager.default.fileExists(atPath: scratch.socket))
    }

    @Test("moectl exit codes: cannot connect, refused, usage")
    func exitCodes() throws {
        let scratch = Scratch()
        #expect(try moectl(["status"], socket: scratch.socket).code == 69)
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        #expect(try moectl(["use", "nope"], socket: scratch.socket).code == 2)
        #expect(try moectl(["load"], socket: scratch.socket).code == 64)
        let status = try moectl(["status", "--json"], socket: scratch.socket)
        let object = try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any]
        #expect(object?["pid"] as? Int == Int(daemon.pid))
        var tokenize = TokenizeRequest()
        tokenize.text = "hi"
        guard case .tokenize(let reply) = try daemon.client().call(.tokenize(tokenize)).result else {
            Issue.record("no tokens"); return
        }
        #expect(reply.tokens == [256, 104, 105])
        #expect(reply.pieces == [[], [104], [105]])
        #expect(daemon.stop() == 0)
    }
}

func statusOf(_ daemon: DaemonProcess) throws -> StatusReply {
    guard case .status(let status) = try daemon.client().call(.status).result else { throw E2EError("no status") }
    return status
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
}

@Suite("Socket activation", .serialized)
struct SocketActivationTests {
    static let activator = "/usr/bin/systemd-socket-activate"

    @Test("moed serves a socket systemd passes as fd 3",
          .enabled(if: FileManager.default.isExecutableFile(atPath: activator), "needs systemd-socket-activate"))
    func activated() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let inherited = scratch.directory + "/activated.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.activator)
        // systemd-socket-activate passes no environment on: a sanitizer's
        // options (scripts/sanitize.sh) must be handed over by name.
        let forwarded = ["ASAN_OPTIONS", "TSAN_OPTIONS"].filter { ProcessInfo.processInfo.environment[$0] != nil }
        process.arguments = ["-l", inherited] + forwarded.flatMap { ["-E", $0] } + [Build.path("moed"), "--config", scratch.config]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        var status: StatusReply?
        for _ in 0..<100 where status == nil {
            Thread.sleep(forTimeInterval: 0.05)
            if let client = try? MoeClient(socketPath: inherited) {
                client.setReceiveTimeout(seconds: 30)
                if case .status(let s) = try client.call(.status).result { status = s }
            }
        }
        #expect(status?.socket.contains("socket activation") == true)
        #expect(!FileManager.default.fileExists(atPath: scratch.socket), "the configured path is not bound")
        let client = try MoeClient(socketPath: inherited)
        client.setReceiveTimeout(seconds: 30)
        #expect(try generate(client, prompt: "abc", maxTokens: 3).text == toyContinuation(promptBytes: 3, count: 3))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}

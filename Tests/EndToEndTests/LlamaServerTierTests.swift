import Foundation
import MoeAPI
import Testing
import TestSupport

/// llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`)
/// on loopback, started by the test with the default SmolLM2 model, as a
/// real third-party engine behind a remote tier.
final class LlamaServerProcess {
    let process = Process()
    let port: Int
    let logPath: String

    static let python = PythonClient.python

    /// Whether the venv has the server (scripts/install-deps.sh installs `llama-cpp-python[server]`).
    static var isAvailable: Bool {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        return GatewayPython.run(["-c", "import llama_cpp.server.app, uvicorn, fastapi"]).code == 0
    }

    init(model: String, directory: String) throws {
        port = try unusedPort()
        logPath = directory + "/llama-server.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", String(port),
                             "--n_ctx", "2048", "--n_threads", "2"]
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        // Ready once it accepts connections (it loads the model first).
        for _ in 0..<240 where process.isRunning && !Self.accepts(port: port) { usleep(250_000) }
        guard process.isRunning, Self.accepts(port: port) else {
            process.terminate()
            throw E2EError("llama_cpp.server did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// The server's own answer to a non-streamed chat call, through Python's urllib.
    func directChat(_ content: String, maxTokens: Int, stop: [String] = []) throws -> (text: String, finish: String) {
        let body: [String: Any] = [
            "model": "x", "messages": [["role": "user", "content": content]], "max_tokens": maxTokens,
            "temperature": 0, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "seed": 0, "stop": stop,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let script = """
            import json, sys, urllib.request
            request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
            answer = json.load(urllib.request.urlopen(request))
            choice = answer["choices"][0]
            print(json.dumps({"text": choice["message"]["content"], "finish": choice["finish_reason"]}))
            """
        let result = GatewayPython.run(["-c", script, baseURL + "/chat/completions", json])
        guard result.code == 0, let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: String],
              let text = object["text"], let finish = object["finish"] else {
            throw E2EError("direct call to llama_cpp.server failed: \(result.err)")
        }
        return (text, finish)
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

@Suite("remote tiers: moed over llama-cpp-python's OpenAI-compatible server", .serialized)
struct LlamaServerTierTests {
    static let available = Testing.ConditionTrait.enabled(if: LlamaServerProcess.isAvailable && DefaultModel.path != nil,
        "skipped: needs llama-cpp-python[server] in .venv and the default model (scripts/install-deps.sh installs both)")

    /// moed with one remote tier, `llama`, in front of `server`.
    static func front(_ scratch: Scratch, server: LlamaServerProcess) throws -> DaemonProcess {
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            socket_mode = "0600"
            default_tier = "llama"

            [tiers.llama]
            plugin = "remote"
            url = "\(server.baseURL)"
            temperature = 0
            timeout = "60s"
            """)
        return try DaemonProcess(scratch)
    }

    @Test("moectl generate streams the server's greedy text, stop strings end it, and the server dying mid-stream is a clear error", available)
    func llamaServer() throws {
        let scratch = Scratch()
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        let server = try LlamaServerProcess(model: model, directory: scratch.directory)
        let daemon = try Self.front(scratch, server: server)
        let setup = (daemon: daemon, scratch: scratch)

        let direct = try server.directChat("What is the capital of France?", maxTokens: 8)
        var chat = GenerateRequest()
        chat.messages = [ChatMessage(role: "user", content: "What is the capital of France?")]
        chat.maxTokens = 8
        let streamed = try streamOn(setup.daemon, chat)
        let summary = try #require(streamed.final.summary, "\(streamed.final.error?.message ?? "")")
        #expect(streamed.chunks.joined() == direct.text)
        #expect(streamed.chunks.count >= 2, "streamed in pieces: \(streamed.chunks)")
        #expect(summary.finishReason == (direct.finish == "length" ? "length" : "stop"))
        #expect(summary.completionTokens == UInt32(streamed.chunks.count))

        let cli = try moectl(["generate", "--tier", "llama", "--max-tokens", "8", "What is the capital of France?"], socket: scratch.socket)
        #expect(cli.code == 0, "\(cli.err)")
        #expect(cli.out.trimmingCharacters(in: .whitespacesAndNewlines) == direct.text.trimmingCharacters(in: .whitespacesAndNewlines))

        let stopAt = try #require(direct.text.split(separator: " ").dropFirst().first.map(String.init), "no second word in '\(direct.text)'")
        var stopped = chat
        stopped.stop = [stopAt]
        let directStopped = try server.directChat("What is the capital of France?", maxTokens: 8, stop: [stopAt])
        let cut = try streamOn(setup.daemon, stopped)
        #expect(cut.chunks.joined() == directStopped.text)
        #expect(cut.final.summary?.finishReason == "stop")

        var completion = GenerateRequest()
        completion.prompt = "The capital of France is"
        completion.maxTokens = 4
        let raw = try streamOn(setup.daemon, completion)
        #expect(raw.final.summary?.completionTokens ?? 0 > 0, "\(raw.final.error?.message ?? "")")

        // The server dies mid-stream: a clear error naming it; moed keeps serving.
        var long = chat
        long.maxTokens = 400
        let client = try setup.daemon.client()
        let id = try client.send(.generate(long))
        var chunks = 0
        var final: Response?
        while final == nil {
            let response = try client.receive()
            guard response.id == id else { continue }
            if case .chunk = response.result {
                chunks += 1
                if chunks == 2 { kill(server.process.processIdentifier, SIGKILL) }
            }
            if response.isFinal { final = response }
        }
        let error = try #require(final?.error, "the stream ended without an error")
        #expect(error.code == .unavailable)
        #expect(error.message.contains(server.baseURL), "\(error.message)")
        server.process.waitUntilExit()  // its listening socket is gone only once it has exited
        let status = try statusOf(setup.daemon)
        #expect(status.tiers.first?.remoteURL == server.baseURL)
        let after = try #require(try streamOn(setup.daemon, chat).final.error)
        #expect(after.code == .unavailable)
        #expect(after.message.contains("connection refused"), "\(after.message)")
        #expect(setup.daemon.stop() == 0)
    }
}

/// A generate call's chunks and its final response (summary or error).
func streamOn(_ daemon: DaemonProcess, _ request: GenerateRequest) throws -> (chunks: [String], final: Response) {
    let client = try daemon.client()
    let id = try client.send(.generate(request))
    var chunks: [String] = []
    while true {
        let response = try client.receive()
        guard response.id == id else { continue }
        if case .chunk(let chunk) = response.result { chunks.append(chunk.text) }
        if response.isFinal { return (chunks, response) }
    }
}

import Foundation
import MoeAPI
import MoeClient

/// Where the build put moed, moectl and the plugins: beside the test binary.
enum Build {
    static let directory: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("moed").path) { return url.path }
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "."
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }
}

/// A scratch folder with a toy model file and a config, removed at the end.
final class Scratch {
    let directory: String

    init() {
        directory = NSTemporaryDirectory() + "moed-e2e-" + UUID().uuidString.prefix(8)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // moed refuses a config in a folder others can write, whatever the umask made.
        chmod(directory, 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var socket: String { directory + "/moed.sock" }
    var config: String { directory + "/moed.toml" }

    @discardableResult
    func write(_ name: String, _ contents: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        chmod(path, 0o644)
        return path
    }

    /// A config with tiers haiku and opus on the toy plugin.
    func writeConfig(budget: String = "\"1GiB\"", tiers extra: String = "", toyKnobs: String = "step_ms=2") {
        let model = write("toy.txt", "#toy \(toyKnobs)\nHello from the toy model. ")
        write("moed.toml", """
            [daemon]
            socket = "\(socket)"
            socket_mode = "0600"
            memory_budget = \(budget)
            default_tier = "haiku"

            [tiers.haiku]
            plugin = "toy"
            model = "\(model)"
            temperature = 0

            [tiers.opus]
            plugin = "toy"
            model = "\(model)"
            temperature = 0
            \(extra)
            """)
    }
}

/// A running moed, started with NOTIFY_SOCKET so the test hears READY=1
/// the way systemd would, and stopped with SIGTERM at the end.
final class DaemonProcess {
    let process = Process()
    let scratch: Scratch
    let notify: NotifyListener
    private let stderrPipe = Pipe()

    init(_ scratch: Scratch, arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        self.scratch = scratch
        notify = try NotifyListener(path: scratch.directory + "/notify.sock")
        process.executableURL = URL(fileURLWithPath: Build.path("moed"))
        process.arguments = ["--config", scratch.config] + arguments
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["NOTIFY_SOCKET"] = notify.path
        process.environment = environment
        process.standardError = stderrPipe
        try process.run()
        guard notify.wait(for: "READY=1", seconds: 20) else {
            process.terminate()
            throw E2EError("moed did not report READY=1: \(log)")
        }
    }

    var pid: Int32 { process.processIdentifier }

    var log: String {
        String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self)
    }

    func client() throws -> MoeClient {
        let client = try MoeClient(socketPath: scratch.socket)
        client.setReceiveTimeout(seconds: 30)
        return client
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// SIGTERM, then waits for exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { signal(SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

/// A datagram socket standing in for systemd's notify socket.
final class NotifyListener {
    let path: String
    private let fd: Int32
    private(set) var messages: [String] = []

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else { throw E2EError("cannot bind notify socket") }
    }

    deinit { close(fd) }

    /// Waits until some message contains `text`. Reads everything queued
    /// on each call; systemd reads promptly, and so must a stand-in, or
    /// the daemon's sd_notify would block on a full queue.
    func wait(for text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            drain(waitMilliseconds: 0)
            if messages.contains(where: { $0.contains(text) }) { return true }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return false }
            drain(waitMilliseconds: Int32(min(remaining, 0.1) * 1000))
        }
    }

    private func drain(waitMilliseconds: Int32) {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var wait = waitMilliseconds
        while poll(&poller, 1, wait) > 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { messages.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            wait = 0
        }
    }
}

struct E2EError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs moed expecting it to refuse to start; returns its exit status and
/// stderr, or nil when it is still running after 20 s (then it is killed).
func moedRefusal(_ arguments: [String]) throws -> (code: Int32, err: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Build.path("moed"))
    process.arguments = arguments
    let err = Pipe()
    process.standardError = err
    try process.run()
    for _ in 0..<200 where process.isRunning { usleep(100_000) }
    guard !process.isRunning else {
        process.terminate()
        process.waitUntilExit()
        return nil
    }
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, text)
}

/// Runs moectl with `arguments`; returns exit code, stdout and stderr.
/// `launcher` runs it through another program (e.g. setpriv, as another uid);
/// `executable` is the moectl to run.
func moectl(_ arguments: [String], socket: String, stdin: String? = nil,
            launcher: [String] = [], executable: String = Build.path("moectl"),
            environment extra: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
    let process = Process()
    let command = launcher + [executable] + arguments
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    environment["MOED_SOCKET"] = socket
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let error = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
}

/// Generates on `tier` through a client, returning the final summary.
func generate(_ client: MoeClient, prompt: String, tier: String = "", maxTokens: UInt32 = 8) throws -> (text: String, summary: GenerateSummary) {
    var request = GenerateRequest()
    request.prompt = prompt
    request.tier = tier
    request.maxTokens = maxTokens
    var text = ""
    let final = try client.call(.generate(request)) { response in
        if case .chunk(let chunk) = response.result { text += chunk.text }
    }
    guard case .summary(let summary) = final.result else { throw E2EError("no summary") }
    return (text, summary)
}

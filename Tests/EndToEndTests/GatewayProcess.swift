import Foundation

/// A running moegate in front of a test's moed, on a free loopback port
/// (it is started with port 0 and prints the port it got).
final class GatewayProcess {
    let process = Process()
    let port: Int
    private let output = Pipe()
    /// stderr goes to a file: a pipe nobody reads would fill and stall moegate.
    let logPath: String

    init(socket: String, listen: String = "127.0.0.1:0", arguments: [String] = []) throws {
        logPath = socket + ".moegate.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Build.path("moegate"))
        process.arguments = ["--socket", socket, "--listen", listen] + arguments
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        var line = ""
        let reader = output.fileHandleForReading
        while !line.contains("\n") {
            let data = reader.availableData
            guard !data.isEmpty else { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let found = line.range(of: #"port (\d+)"#, options: .regularExpression),
              let port = Int(line[found].dropFirst("port ".count)) else {
            process.terminate()
            throw E2EError("moegate did not report its port: \(line) \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }
        self.port = port
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

/// The venv's Python with OpenAI's client and Prometheus' parser, and the script that drives moegate.
enum GatewayPython {
    static let script = PythonClient.packageRoot + "/Tests/EndToEndTests/Python/gateway_client.py"

    static var isAvailable: Bool {
        guard FileManager.default.isExecutableFile(atPath: PythonClient.python) else { return false }
        return run(["-c", "import openai, prometheus_client"]).code == 0
    }

    /// Runs gateway_client.py CHECK against moegate; returns what it printed as JSON.
    static func check(_ name: String, gateway: GatewayProcess, model: String = "haiku", key: String? = nil) throws -> [String: Any] {
        let result = run([script, gateway.baseURL, model, name] + (key.map { [$0] } ?? []))
        guard result.code == 0 else { throw E2EError("gateway_client.py \(name) failed: \(result.err)") }
        guard let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any] else {
            throw E2EError("gateway_client.py \(name) printed no JSON object: \(result.out)")
        }
        return object
    }

    static func run(_ arguments: [String]) -> (code: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PythonClient.python)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        guard (try? process.run()) != nil else { return (-1, "", "cannot start \(PythonClient.python)") }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }
}

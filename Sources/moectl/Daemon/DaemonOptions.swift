import ArgumentParser
import MoeAPI
import MoeClient
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Exit codes of the daemon verbs (see docs/service.md).
enum DaemonExitCode {
    /// Bad flags or arguments (ArgumentParser's own usage code).
    static let usage: Int32 = 64
    /// moed refused the call (unknown tier, bad config, budget, …).
    static let refused: Int32 = 2
    /// No daemon at the socket.
    static let cannotConnect: Int32 = 69
    /// The daemon hung up mid-call or spoke garbage.
    static let connectionLost: Int32 = 76
}

/// Flags every daemon verb takes.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "moed's socket (default: $MOED_SOCKET, else /run/moed/moed.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// Connects, runs `body`, and turns failures into a message on stderr
    /// and the documented exit code.
    func withClient<T>(_ body: (MoeClient) throws -> T) throws -> T {
        do {
            let client = try MoeClient(socketPath: MoeClient.socketPath(explicit: socket))
            return try body(client)
        } catch let error as ClientError {
            report(error)
            switch error {
            case .cannotConnect: throw ExitCode(DaemonExitCode.cannotConnect)
            case .connectionLost: throw ExitCode(DaemonExitCode.connectionLost)
            case .refused: throw ExitCode(DaemonExitCode.refused)
            }
        }
    }

    private func report(_ error: ClientError) {
        if json, case .refused(let remote) = error {
            try? printJSON(["error": ["code": remote.code.name, "message": remote.message]])
        }
        printError("moectl: \(error)")
    }
}

/// Shows load progress on stderr: one updating line on a terminal.
struct ProgressLine {
    private var lastPercent = -1
    private var shown = false
    let isTerminal = isatty(2) != 0

    mutating func update(tier: String, fraction: Float) {
        let percent = Int(fraction * 100)
        guard percent != lastPercent else { return }
        lastPercent = percent
        if isTerminal {
            fputs("\rloading \(tier): \(percent)%", stderr)
            shown = true
        } else if percent == 100 || lastPercent < 0 {
            fputs("loading \(tier): \(percent)%\n", stderr)
        }
    }

    mutating func end() {
        if shown { fputs("\n", stderr) }
        shown = false
    }

    /// Handles a streamed response if it is load progress.
    mutating func handle(_ response: Response) -> Bool {
        guard case .loadProgress(let tier, let fraction) = response.result else { return false }
        update(tier: tier, fraction: fraction)
        return true
    }
}

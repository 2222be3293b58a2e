import ArgumentParser
import Dispatch
import Gateway
import Logging
import MoeClient
import MoeLogging
#if canImport(Glibc)
import Glibc
#endif

/// `moegate --socket PATH --listen HOST:PORT [--api-keys FILE]`.
@main
struct MoeGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moegate",
        abstract: "OpenAI-compatible HTTP gateway, /metrics and /healthz in front of moed's socket.")

    @Option(help: "moed's socket (default: MOED_SOCKET, else /run/moed/moed.sock).")
    var socket: String?

    @Option(help: "HOST:PORT or unix:PATH to serve HTTP on (port 0 picks a free one).")
    var listen = "127.0.0.1:8080"

    @Option(name: .customLong("api-keys"), help: "File of API keys, one per line, re-read on SIGHUP (required off loopback).")
    var apiKeys: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        guard let level = MoeLog.parseLevel(logLevel) else { throw ValidationError("--log-level \(logLevel): unknown level") }
        MoeLog.level = level
        let logger = MoeLog.logger(label: "moegate")
        let keys: APIKeys
        let gateway: Gateway
        do {
            keys = try APIKeys(path: apiKeys)
            gateway = try Gateway(socketPath: MoeClient.socketPath(explicit: socket), listen: try ListenAddress(parsing: listen),
                                  keys: keys, logger: logger)
        } catch let error as GatewaySetupError {
            throw ValidationError(error.description)
        }
        let hangup = Self.reloadKeysOnHangup(keys, logger: logger)
        defer { hangup?.cancel() }
        try await gateway.run { port in
            // One line tests and scripts read to learn the port picked.
            print("moegate listening on \(gateway.listen)\(port.map { " port \($0)" } ?? ""), moed at \(gateway.socketPath)")
            fflush(stdout)
        }
    }

    static func reloadKeysOnHangup(_ keys: APIKeys, logger: Logger) -> DispatchSourceSignal? {
        guard keys.isEnforced else { return nil }
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try keys.reload()
                logger.notice("re-read API keys", metadata: ["keys": "\(keys.count)"])
            } catch {
                logger.error("keeping the API keys in use", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        return source
    }
}

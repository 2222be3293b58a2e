/// Where moegate listens: `HOST:PORT` (`[v6]:PORT` too) or `unix:PATH`.
public enum ListenAddress: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { throw GatewaySetupError("--listen unix: needs a path, as in unix:/run/moed/gate.sock") }
            self = .unix(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw GatewaySetupError("--listen \(text): expected HOST:PORT or unix:PATH")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = text[text.index(after: colon)...]
        guard !host.isEmpty, let port = Int(portText), (0...65_535).contains(port) else {
            throw GatewaySetupError("--listen \(text): expected HOST:PORT with a port from 0 to 65535")
        }
        self = .tcp(host: host, port: port)
    }

    /// True when only this machine can reach the address: a Unix socket
    /// (guarded by file permissions) or a loopback host. Anything else needs API keys.
    public var isLocalOnly: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _):
            let lowered = host.lowercased()
            if lowered == "localhost" || lowered == "::1" { return true }
            let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// A reason moegate refuses to start, shown as is.
public struct GatewaySetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

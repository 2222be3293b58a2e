/// Why talking to the upstream failed. The kind decides moed's status code
/// (the plugin maps it to a `moe_status`); the message says what happened
/// and names the upstream.
public struct UpstreamError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Refused, unreachable, reset, closed mid-answer, or a 5xx.
        case unavailable
        /// 429: the upstream is over its limits.
        case rateLimited
        /// No byte for longer than the tier's `timeout`.
        case timeout
        /// The host asked to stop.
        case cancelled
        /// The upstream's bytes broke HTTP, SSE or JSON, or a bound.
        case malformed
        /// 401 or 403.
        case permission
        /// 404: most often an unknown model.
        case notFound
        /// Another 4xx: the upstream refused the request.
        case refused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The kind an HTTP status other than 2xx means.
    public static func kind(httpStatus: Int) -> Kind {
        switch httpStatus {
        case 401, 403: .permission
        case 404: .notFound
        case 408, 504: .timeout
        case 429: .rateLimited
        case 500...599: .unavailable
        default: .refused
        }
    }
}

/// `http://host[:port][/path]` (no user info, query or fragment; IPv6
/// literals in brackets). The path is the API base, e.g. "/v1".
public struct UpstreamURL: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var basePath: String

    public init(_ text: String) throws {
        func refuse(_ why: String) -> UpstreamError { UpstreamError(.refused, "url '\(text)': \(why)") }
        guard text.utf8.count <= 2048 else { throw refuse("longer than 2048 bytes") }
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            throw refuse("https is not supported by the remote plugin (plain http only; see docs/scaling.md)")
        }
        guard lower.hasPrefix("http://") else { throw refuse("expected http://host:port/path") }
        let rest = text.dropFirst("http://".count)
        guard rest.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw refuse("spaces, control or non-ASCII characters")
        }
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else {
            throw refuse("a query, fragment or user info is not allowed")
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        var hostPart = Substring(authority), portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw refuse("unclosed [ in the host") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("expected :port after ]") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw refuse("no host") }
        host = String(hostPart)
        if let portPart {
            guard let value = UInt16(portPart), value > 0 else { throw refuse("port '\(portPart)' is not 1-65535") }
            port = value
        } else {
            port = 80
        }
    }

    /// The request target for an endpoint under the base, e.g. "/v1/chat/completions".
    public func target(_ endpoint: String) -> String { basePath + "/" + endpoint }

    /// The Host header's value.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }

    public var description: String { "http://\(hostHeader)\(basePath)" }
}

/// The status line and headers of an HTTP/1.1 response.
public struct HTTPResponseHead: Equatable, Sendable {
    public var status: Int
    public var reason: String
    /// Names lowercased, in order.
    public var headers: [(name: String, value: String)]

    public static func == (a: Self, b: Self) -> Bool {
        a.status == b.status && a.reason == b.reason && a.headers.map(\.name) == b.headers.map(\.name)
            && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public func header(_ name: String) -> String? { headers.last { $0.name == name }?.value }
}

/// An HTTP/1.1 response read incrementally from hostile bytes: every size
/// is bounded, every malformed byte is an error naming it, nothing traps.
/// Bodies are delimited by Content-Length, chunked transfer coding, or the
/// connection's close.
public struct HTTPResponseParser {
    public enum Event: Equatable {
        case head(HTTPResponseHead)
        case body([UInt8])
        case end
    }

    public struct Limits: Sendable {
        public var headBytes = 32 << 10
        public var headers = 100
        /// Largest chunk-size line and trailer line.
        public var lineBytes = 4096
        public init() {}
    }

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailer
        case untilClose
        case done
    }

    private let limits: Limits
    private var state = State.head
    private var pending: [UInt8] = []

    public init(limits: Limits = Limits()) { self.limits = limits }

    public var isDone: Bool { if case .done = state { true } else { false } }

    /// Consumes `bytes`; returns what they completed.
    public mutating func feed(_ bytes: [UInt8]) throws -> [Event] {
        pending += bytes
        var events: [Event] = []
        var progressed = true
        while progressed {
            progressed = false
            switch state {
            case .head:
                guard let end = Self.find([13, 10, 13, 10], in: pending) else {
                    if pending.count > limits.headBytes { throw malformed("response head longer than \(limits.headBytes) bytes") }
                    break
                }
                guard end <= limits.headBytes else { throw malformed("response head longer than \(limits.headBytes) bytes") }
                let head = try parseHead(Array(pending[..<end]))
                pending.removeFirst(end + 4)
                events.append(.head(head))
                state = try bodyState(head)
                progressed = true
            case .fixed(let remaining):
                let take = min(remaining, pending.count)
                if take > 0 { events.append(.body(Array(pending[..<take]))); pending.removeFirst(take) }
                state = remaining - take == 0 ? .done : .fixed(remaining: remaining - take)
                progressed = take > 0 || remaining == 0
            case .chunkSize:
                guard let line = try takeLine() else { break }
                let hex = line.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
                let digits = String(decoding: hex, as: UTF8.self).trimmingSpaces
                guard !digits.isEmpty, digits.count <= 15, let size = Int(digits, radix: 16) else {
                    throw malformed("bad chunk size '\(String(decoding: line.prefix(40), as: UTF8.self))'")
                }
                state = size == 0 ? .trailer : .chunkData(remaining: size)
                progressed = true
            case .chunkData(let remaining):
                let take = min(remaining, pending.count)
                if take > 0 { events.append(.body(Array(pending[..<take]))); pending.removeFirst(take) }
                state = remaining - take == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - take)
                progressed = take > 0
            case .chunkDataEnd:
                guard let line = try takeLine() else { break }
                guard line.isEmpty else { throw malformed("chunk data longer than its size") }
                state = .chunkSize
                progressed = true
            case .trailer:
                guard let line = try takeLine() else { break }
                if line.isEmpty { state = .done }
                progressed = true
            case .untilClose:
                if !pending.isEmpty { events.append(.body(pending)); pending = [] }
            case .done:
                if !events.contains(.end) { events.append(.end) }
            }
        }
        return events
    }

    /// The connection closed: the end, if the body was delimited by it.
    public mutating func finish() throws -> [Event] {
        switch state {
        case .done: return []
        case .untilClose:
            state = .done
            return [.end]
        case .head: throw UpstreamError(.unavailable, "closed the connection before answering")
        default: throw UpstreamError(.unavailable, "closed the connection in the middle of the answer")
        }
    }

    private func malformed(_ message: String) -> UpstreamError { UpstreamError(.malformed, "malformed HTTP: \(message)") }

    private mutating func takeLine() throws -> [UInt8]? {
        guard let end = Self.find([13, 10], in: pending) else {
            if pending.count > limits.lineBytes { throw malformed("line longer than \(limits.lineBytes) bytes") }
            return nil
        }
        guard end <= limits.lineBytes else { throw malformed("line longer than \(limits.lineBytes) bytes") }
        let line = Array(pending[..<end])
        pending.removeFirst(end + 2)
        return line
    }

    private func parseHead(_ bytes: [UInt8]) throws -> HTTPResponseHead {
        let lines = Self.split(bytes)
        guard let statusLine = lines.first else { throw malformed("empty response head") }
        let parts = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[1].count == 3,
              let status = Int(String(decoding: parts[1], as: UTF8.self)), (100...599).contains(status) else {
            throw malformed("bad status line '\(String(decoding: statusLine.prefix(60), as: UTF8.self))'")
        }
        let reason = parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : ""
        guard lines.count - 1 <= limits.headers else { throw malformed("more than \(limits.headers) headers") }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw malformed("header line without a name: '\(String(decoding: line.prefix(60), as: UTF8.self))'")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
            headers.append((name, value))
        }
        return HTTPResponseHead(status: status, reason: reason, headers: headers)
    }

    private func bodyState(_ head: HTTPResponseHead) throws -> State {
        if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return .done }
        if let coding = head.header("transfer-encoding") {
            guard coding.lowercased() == "chunked" else { throw malformed("unsupported transfer-encoding '\(coding)'") }
            return .chunkSize
        }
        if let length = head.header("content-length") {
            guard length.count <= 15, let count = Int(length), count >= 0 else { throw malformed("bad content-length '\(length)'") }
            return .fixed(remaining: count)
        }
        return .untilClose
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    private static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = [], current: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 13, i + 1 < bytes.count, bytes[i + 1] == 10 {
                lines.append(current)
                current = []
                i += 2
            } else {
                current.append(bytes[i])
                i += 1
            }
        }
        lines.append(current)
        return lines
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

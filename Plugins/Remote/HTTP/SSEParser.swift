/// Server-sent events (the WHATWG "event stream" format) from hostile
/// bytes: lines end in CRLF, LF or CR; `data:` lines of one event are
/// joined with "\n"; comments (":") and other fields are skipped; an
/// empty line dispatches. Lines and events are bounded.
public struct SSEParser {
    public var maxLineBytes: Int
    public var maxEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    /// A CR ended the last line: a LF right after it belongs to it.
    private var afterCR = false

    public init(maxLineBytes: Int = 1 << 20, maxEventBytes: Int = 4 << 20) {
        self.maxLineBytes = maxLineBytes
        self.maxEventBytes = maxEventBytes
    }

    /// Consumes `bytes`; returns the data of each event they completed.
    public mutating func feed(_ bytes: [UInt8]) throws -> [String] {
        var events: [String] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 10 { continue }
            }
            if byte == 10 || byte == 13 {
                afterCR = byte == 13
                if let event = try endLine() { events.append(event) }
                continue
            }
            guard line.count < maxLineBytes else {
                throw UpstreamError(.malformed, "malformed event stream: a line longer than \(maxLineBytes) bytes")
            }
            line.append(byte)
        }
        return events
    }

    /// Whether bytes of an unfinished event are held (the stream ended inside one).
    public var isInsideEvent: Bool { !line.isEmpty || hasData }

    private mutating func endLine() throws -> String? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else { return nil }
            let event = String(decoding: data, as: UTF8.self)
            data.removeAll(keepingCapacity: true)
            hasData = false
            return event
        }
        if line.first == UInt8(ascii: ":") { return nil }  // a comment (keep-alive)
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        guard line[..<colon].elementsEqual("data".utf8) else { return nil }  // event:, id:, retry:
        var value = line.count > colon ? line[(colon + 1)...] : []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        guard data.count + value.count + 1 <= maxEventBytes else {
            throw UpstreamError(.malformed, "malformed event stream: an event longer than \(maxEventBytes) bytes")
        }
        if hasData { data.append(10) }
        data += value
        hasData = true
        return nil
    }
}

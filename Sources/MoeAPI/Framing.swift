/// The wire framing: a 4-byte big-endian length, then that many bytes of
/// one protobuf message. Pure byte handling, no I/O, so both the daemon
/// and the client use it and tests can feed it anything.
public enum Framing {
    /// Frames larger than this are refused by default (16 MiB).
    public static let defaultMaximumFrameSize = 16 << 20

    /// `payload` with its length header in front.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(truncatingIfNeeded: payload.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + payload
    }
}

/// A frame that cannot be accepted; the connection must be closed after
/// answering, because the byte stream can no longer be trusted.
public struct FramingError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Splits a byte stream into frames, whatever the read boundaries are.
public struct FrameDecoder {
    public let maximumFrameSize: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maximumFrameSize: Int = Framing.defaultMaximumFrameSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    /// Bytes received but not yet part of a complete frame.
    public var pendingByteCount: Int { buffer.count - start }

    /// Adds bytes read from the stream.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, nil if more bytes are needed.
    /// Throws as soon as a header announces a frame above the maximum, so
    /// an oversize frame is refused before its body is buffered.
    public mutating func next() throws -> [UInt8]? {
        guard pendingByteCount >= 4 else { return nil }
        let length = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= maximumFrameSize else {
            throw FramingError("frame of \(length) bytes exceeds the maximum of \(maximumFrameSize)")
        }
        guard pendingByteCount >= 4 + length else { return nil }
        let payload = Array(buffer[start + 4 ..< start + 4 + length])
        start += 4 + length
        compact()
        return payload
    }

    /// Drops consumed bytes once they dominate, keeping appends cheap.
    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65_536, start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}

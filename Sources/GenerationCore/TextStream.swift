/// Turns the byte pieces of generated tokens into text a client can show:
/// whole UTF-8 characters only (a token may end inside one: byte tokens,
/// byte-level BPE pieces of an emoji), and nothing of a stop string. The
/// one hold-back rule of every generation, in-process or in the daemon.
/// A NUL byte comes out as U+FFFD: the protocol's strings are C strings,
/// which would end at it, and both paths must show the same text.
public struct TextStream: Sendable {
    private var pendingBytes: [UInt8] = []
    private var filter: StopStringFilter

    public init(stops: [String]) {
        filter = StopStringFilter(stops)
    }

    /// Text ready to show, and whether a stop string was reached
    /// (everything from it on is dropped).
    public mutating func feed(_ bytes: [UInt8]) -> (text: String, stopped: Bool) {
        if bytes.contains(0) {
            pendingBytes += bytes.flatMap { $0 == 0 ? [0xEF, 0xBF, 0xBD] : [$0] }
        } else {
            pendingBytes += bytes
        }
        let complete = Self.completePrefixLength(pendingBytes)
        let ready = String(decoding: pendingBytes[..<complete], as: UTF8.self)
        pendingBytes.removeFirst(complete)
        let step = filter.feed(ready)
        return (step.text, step.stopped)
    }

    /// What is still held when generation ends for another reason; bytes
    /// that never became a character come out as U+FFFD.
    public mutating func finish() -> String {
        let tail = String(decoding: pendingBytes, as: UTF8.self)
        pendingBytes = []
        let step = filter.feed(tail)
        return step.stopped ? step.text : step.text + filter.finish()
    }

    /// How many leading bytes can be decoded now: all of them, except a
    /// trailing sequence that is a valid but unfinished UTF-8 character.
    /// Bytes that can never finish one are let through (decoding turns
    /// them into U+FFFD) rather than held forever.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // A character is at most 4 bytes, so only the last 3 can be unfinished.
        var start = bytes.count - 1
        let limit = max(bytes.count - 3, 0)
        while start >= limit {
            let lead = bytes[start]
            if lead & 0xC0 != 0x80 {
                let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
                let unfinished = lead >= 0xC2 && lead <= 0xF4 && bytes.count - start < needed
                return unfinished && isValidPrefix(bytes[start...]) ? start : bytes.count
            }
            start -= 1
        }
        return bytes.count
    }

    /// Whether the bytes could start a well-formed character (RFC 3629 ranges).
    private static func isValidPrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
        let lead = bytes[bytes.startIndex]
        for (offset, byte) in bytes.dropFirst().enumerated() {
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            if offset == 0 {
                switch lead {
                case 0xE0: low = 0xA0
                case 0xED: high = 0x9F
                case 0xF0: low = 0x90
                case 0xF4: high = 0x8F
                default: break
                }
            }
            if byte < low || byte > high { return false }
        }
        return true
    }
}

// Turns a stream of tokens into text that is safe to show as it arrives:
// only complete UTF-8 characters are emitted. A token that ends inside a
// character (byte tokens, byte-level BPE pieces of an emoji) is held until
// the rest arrives; bytes that can never form a character become U+FFFD.

public struct StreamingDecoder {
    private let tokenizer: Tokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []
    private var stripsSpace: Bool

    /// - Parameter renderSpecial: show control tokens' text (e.g. "<|im_end|>").
    /// - Parameter isStartOfText: the first token starts the text, so a model
    ///   with a space prefix drops its leading space, as `decode` does.
    public init(tokenizer: Tokenizer, renderSpecial: Bool = false, isStartOfText: Bool = true) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
        self.stripsSpace = isStartOfText && tokenizer.addsSpacePrefix
    }

    /// Adds one token; returns the text that is now complete (may be empty).
    public mutating func append(_ token: Int32) -> String {
        var piece = tokenizer.piece(token, special: renderSpecial)[...]
        if stripsSpace && piece.first == 0x20 { piece = piece.dropFirst() }
        stripsSpace = false
        pending.append(contentsOf: piece)
        let complete = StreamingDecoder.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Ends the stream: anything still held is emitted, invalid bytes as U+FFFD.
    public mutating func finish() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many leading bytes can be decoded now: all of them, except a
    /// trailing sequence that is a valid but unfinished UTF-8 character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // A character is at most 4 bytes, so only the last 3 can be unfinished.
        var start = bytes.count - 1
        let limit = max(bytes.count - 3, 0)
        while start >= limit {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {  // found the lead byte of the last character
                let needed = SentencePieceEncoder.utf8Length(byte)
                let have = bytes.count - start
                if byte >= 0xC2 && byte <= 0xF4 && have < needed
                    && isValidPrefix(bytes[start...]) {
                    return start
                }
                return bytes.count
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

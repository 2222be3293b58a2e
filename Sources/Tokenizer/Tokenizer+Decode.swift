// Tokens → bytes and text, as llama.cpp's llama_token_to_piece and
// llama_detokenize.

extension Tokenizer {
    /// The bytes one token stands for. Control and unknown tokens give
    /// nothing unless `special` is true; a piece may be part of a UTF-8
    /// character (byte tokens, byte-level BPE), so this is bytes, not text.
    public func piece(_ token: Int32, special: Bool = false) -> [UInt8] {
        guard token >= 0, Int(token) < pieces.count else { return [] }
        let type = tokenTypes[Int(token)]
        if !special && (type == .control || type == .unknown) { return [] }
        return pieces[Int(token)]
    }

    /// Tokens → text. As llama_detokenize: the first token loses one leading
    /// space when the model adds a space prefix, and BPE models that ask for
    /// it get their spaces before punctuation and contractions cleaned.
    /// Bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ tokens: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        var stripsSpace = addsSpacePrefix
        for token in tokens {
            var piece = self.piece(token, special: renderSpecial)[...]
            if stripsSpace && piece.first == 0x20 { piece = piece.dropFirst() }
            stripsSpace = false
            bytes.append(contentsOf: piece)
        }
        if preTokenizer?.cleansSpaces == true {
            Tokenizer.cleanSpaces(&bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func renderPiece(_ text: [UInt8], type: TokenType, model: TokenizerModel) -> [UInt8] {
        switch type {
        case .control, .unknown, .userDefined:
            return text
        case .normal:
            switch model {
            case .sentencePiece: return unescapeSpaces(text)
            case .bytePairEncoding: return byteLevelDecode(text)
            }
        case .byte:
            return byteTokenValue(text).map { [$0] } ?? []
        case .undefined, .unused:
            return []
        }
    }

    /// "▁" (U+2581) back to " ".
    private static func unescapeSpaces(_ text: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count && text[i] == 0xE2 && text[i + 1] == 0x96 && text[i + 2] == 0x81 {
                result.append(0x20)
                i += 3
            } else {
                result.append(text[i])
                i += 1
            }
        }
        return result
    }

    /// Byte-level characters back to raw bytes. A character outside the
    /// mapping is written the way llama.cpp does: "[UNK_BYTE_0x…]".
    private static func byteLevelDecode(_ text: [UInt8]) -> [UInt8] {
        let decoded = UTF8Scalars(text[...])
        var result: [UInt8] = []
        result.reserveCapacity(decoded.scalars.count)
        for (index, scalar) in decoded.scalars.enumerated() {
            if let byte = ByteLevel.byteForScalar[scalar.value] {
                result.append(byte)
            } else {
                let utf8 = text[decoded.offsets[index]..<decoded.offsets[index + 1]]
                let hex = utf8.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                result.append(contentsOf: Array("[UNK_BYTE_0x\(hex)".utf8) + text + [UInt8(ascii: "]")])
            }
        }
        return result
    }

    /// The value of a "<0xXX>" token.
    private static func byteTokenValue(_ text: [UInt8]) -> UInt8? {
        guard text.count == 6, text.starts(with: Array("<0x".utf8)), text[5] == UInt8(ascii: ">") else {
            return nil
        }
        return UInt8(String(decoding: text[3..<5], as: UTF8.self), radix: 16)
    }

    /// llama.cpp's clean_spaces passes: " ?", " !", " .", " ," lose the space;
    /// " ' " loses both spaces; " 's", " 'm", " 're", " 've" lose the space.
    static func cleanSpaces(_ text: inout [UInt8]) {
        let space = UInt8(ascii: " "), quote = UInt8(ascii: "'")
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == space && "?!.,".utf8.contains(x) { out.removeLast() }
            out.append(x)
        }
        text = out

        out = []
        var i = 0
        var previous: UInt8? = nil
        while i < text.count {
            let x = text[i]
            if x == quote && i + 1 < text.count && previous == space && text[i + 1] == space {
                out.removeLast()
                out.append(x)
                previous = 0  // the dropped space no longer counts as "before" the next byte
                i += 2
                continue
            }
            out.append(x)
            previous = x
            i += 1
        }
        text = out

        out = []
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == space && x == quote && i + 1 < text.count {
                let x1 = text[i + 1]
                let x2: UInt8? = i + 2 < text.count ? text[i + 2] : nil
                let dropsSpace = x1 == UInt8(ascii: "s") || x1 == UInt8(ascii: "m")
                    || (x1 == UInt8(ascii: "r") && x2 == UInt8(ascii: "e"))
                    || (x1 == UInt8(ascii: "v") && x2 == UInt8(ascii: "e"))
                if dropsSpace { out.removeLast() }
            }
            out.append(x)
        }
        text = out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

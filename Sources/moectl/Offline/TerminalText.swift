/// Text from a file (GGUF metadata, tensor names, errors quoting them) made
/// safe to print: a hostile file must not move the cursor, retitle the
/// window or hide lines with escape sequences.
enum TerminalText {
    /// C0 controls (U+0000–U+001F), DEL and C1 controls (U+0080–U+009F):
    /// the characters terminals act on. C1 matters too: some terminals take
    /// U+009B as CSI, a one-character ESC [.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `text` with every control character written as a visible escape
    /// (`\n`, `\t`, `\r`, `\x1b`, `\u{9b}`) and backslashes doubled, so the
    /// printed form is unambiguous and inert.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) || $0 == "\\" }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x80 && isControl(scalar): out += "\\x" + hex(scalar.value)
            case _ where isControl(scalar): out += "\\u{" + hex(scalar.value) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// JSON text with DEL and C1 controls inside strings written as `\u007f`
    /// … `\u009f`. The encoder already escapes C0 (JSON requires it) but
    /// passes DEL and C1 through raw; outside strings JSON is ASCII, so
    /// every such character found is inside a string.
    static func escapingJSONControls(_ json: String) -> String {
        let isRawControl = { (scalar: Unicode.Scalar) in scalar.value >= 0x7F && isControl(scalar) }
        guard json.unicodeScalars.contains(where: isRawControl) else { return json }
        var out = ""
        for scalar in json.unicodeScalars {
            if isRawControl(scalar) {
                out += "\\u00" + hex(scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return digits.count < 2 ? "0" + digits : digits
    }
}

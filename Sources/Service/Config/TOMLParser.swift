/// A hand-written parser for the TOML subset moed's config needs: tables
/// (`[daemon]`, `[tiers.haiku]`), `key = value` with basic and literal
/// strings, integers (with `_`, `0x`, `0o`), floats, booleans and one-line
/// arrays, and comments. Anything else is an error naming the line, which
/// is the point of writing it: users get "line 12: …" not "parse error".
struct TOMLParser {
    let path: String

    func parse(_ source: String) throws -> TOMLDocument {
        var document = TOMLDocument()
        var seenTables: Set<String> = [""]
        for (index, rawLine) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var cursor = Cursor(Array(rawLine.utf8), line: line, path: path)
            cursor.skipSpaces()
            if cursor.atEndOrComment { continue }
            if cursor.peek == UInt8(ascii: "[") {
                let name = try cursor.readTableHeader()
                guard seenTables.insert(name).inserted else {
                    throw ConfigError(path: path, line: line, key: nil, message: "table [\(name)] defined twice")
                }
                document.tables.append((name, line, []))
                continue
            }
            let entry = try cursor.readEntry()
            var table = document.tables.removeLast()
            if table.entries.contains(where: { $0.key == entry.key }) {
                throw ConfigError(path: path, line: line, key: entry.key, message: "key defined twice in the same table")
            }
            table.entries.append(entry)
            document.tables.append(table)
        }
        return document
    }
}

/// Reads one line byte by byte.
private struct Cursor {
    let bytes: [UInt8]
    let line: Int
    let path: String
    var index = 0

    init(_ bytes: [UInt8], line: Int, path: String) {
        self.bytes = bytes.last == 13 ? Array(bytes.dropLast()) : bytes  // tolerate CRLF
        self.line = line
        self.path = path
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }

    func error(_ message: String, key: String? = nil) -> ConfigError {
        ConfigError(path: path, line: line, key: key, message: message)
    }

    mutating func skipSpaces() {
        while let byte = peek, byte == 32 || byte == 9 { index += 1 }
    }

    mutating func expectLineEnd() throws {
        skipSpaces()
        guard atEndOrComment else { throw error("unexpected text after the value") }
    }

    mutating func readTableHeader() throws -> String {
        index += 1
        var parts: [String] = []
        repeat {
            skipSpaces()
            parts.append(try readBareKey())
            skipSpaces()
        } while consume(UInt8(ascii: "."))
        guard consume(UInt8(ascii: "]")) else { throw error("table header must end with ]") }
        try expectLineEnd()
        return parts.joined(separator: ".")
    }

    mutating func readEntry() throws -> TOMLEntry {
        let key = try readBareKey()
        skipSpaces()
        guard consume(UInt8(ascii: "=")) else { throw error("expected = after the key", key: key) }
        skipSpaces()
        do {
            let value = try readValue()
            try expectLineEnd()
            return TOMLEntry(key: key, value: value, line: line)
        } catch let problem as ConfigError {
            throw ConfigError(path: path, line: line, key: key, message: problem.message)
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func readBareKey() throws -> String {
        let start = index
        while let byte = peek, isKeyByte(byte) { index += 1 }
        guard index > start else { throw error("expected a key (letters, digits, _ or -)") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func isKeyByte(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || b == 45
    }

    mutating func readValue() throws -> TOMLValue {
        switch peek {
        case UInt8(ascii: "\""): return .string(try readBasicString())
        case UInt8(ascii: "'"): return .string(try readLiteralString())
        case UInt8(ascii: "["): return try readArray()
        case nil: throw error("missing value")
        default: return try readScalar()
        }
    }

    mutating func readArray() throws -> TOMLValue {
        index += 1
        var values: [TOMLValue] = []
        while true {
            skipSpaces()
            if consume(UInt8(ascii: "]")) { return .array(values) }
            values.append(try readValue())
            skipSpaces()
            if consume(UInt8(ascii: ",")) { continue }
            guard consume(UInt8(ascii: "]")) else { throw error("array must be on one line and end with ]") }
            return .array(values)
        }
    }

    mutating func readLiteralString() throws -> String {
        index += 1
        let start = index
        while let byte = peek, byte != UInt8(ascii: "'") { index += 1 }
        guard consume(UInt8(ascii: "'")) else { throw error("unterminated string") }
        return String(decoding: bytes[start..<index - 1], as: UTF8.self)
    }

    mutating func readBasicString() throws -> String {
        index += 1
        var result: [UInt8] = []
        while let byte = peek {
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: result, as: UTF8.self) }
            if byte == UInt8(ascii: "\\") { result += try readEscape() } else { result.append(byte) }
        }
        throw error("unterminated string")
    }

    mutating func readEscape() throws -> [UInt8] {
        guard let byte = peek else { throw error("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "n"): return [10]
        case UInt8(ascii: "t"): return [9]
        case UInt8(ascii: "r"): return [13]
        case UInt8(ascii: "\""): return [34]
        case UInt8(ascii: "\\"): return [92]
        case UInt8(ascii: "u"):
            guard index + 4 <= bytes.count,
                  let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                  let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
            index += 4
            return Array(String(Character(scalar)).utf8)
        default: throw error("unknown escape \\\(Character(Unicode.Scalar(byte)))")
        }
    }

    mutating func readScalar() throws -> TOMLValue {
        let start = index
        while let byte = peek, byte != 32, byte != 9, byte != UInt8(ascii: ","), byte != UInt8(ascii: "]"),
              byte != UInt8(ascii: "#") { index += 1 }
        let word = String(decoding: bytes[start..<index], as: UTF8.self)
        if word == "true" { return .boolean(true) }
        if word == "false" { return .boolean(false) }
        let digits = word.replacingOccurrences(of: "_", with: "")
        if digits.hasPrefix("0x"), let value = Int64(digits.dropFirst(2), radix: 16) { return .integer(value) }
        if digits.hasPrefix("0o"), let value = Int64(digits.dropFirst(2), radix: 8) { return .integer(value) }
        if let value = Int64(digits) { return .integer(value) }
        if let value = Double(digits), value.isFinite { return .float(value) }
        throw error("cannot read value '\(word)' (strings need quotes)")
    }
}

private extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

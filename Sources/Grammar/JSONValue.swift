/// A JSON document that keeps its objects' key order (a schema's property
/// order is the order the model should write them in; Foundation's parser
/// loses it). Numbers keep their text, so literals are written back as given.
/// Public for the remote plugin, which reads its upstream's JSON with it.
public enum JSONValue: Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.compact == b.compact }

    var isBool: Bool { if case .bool = self { true } else { false } }

    /// Parses JSON text (nesting bounded, errors name the byte).
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue { try JSONReader.parse(bytes) }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The value as compact JSON text.
    public var compact: String {
        switch self {
        case .object(let members): "{" + members.map { Self.quoted($0.key) + ":" + $0.value.compact }.joined(separator: ",") + "}"
        case .array(let items): "[" + items.map(\.compact).joined(separator: ",") + "]"
        case .string(let s): Self.quoted(s)
        case .number(let text): text
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }

    /// `s` in double quotes with JSON's escapes; other control characters
    /// as `control` writes them (JSON: `\u00XX`).
    public static func quoted(_ s: String, control: (UInt32) -> String = { "\\u00" + ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += control(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

/// A strict JSON reader (RFC 8259) for schemas: bounded depth, clear errors.
struct JSONReader {
    private let bytes: [UInt8]
    private var pos = 0
    static let maxDepth = 128

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.pos == bytes.count else { throw reader.error("text after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth)") }
        skipSpace()
        guard pos < bytes.count else { throw error("unexpected end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try word("true"); return .bool(true)
        case UInt8(ascii: "f"): try word("false"); return .bool(false)
        case UInt8(ascii: "n"): try word("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        skipSpace()
        if take(UInt8(ascii: "}")) { return .object(members) }
        repeat {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            skipSpace()
            guard take(UInt8(ascii: ":")) else { throw error("expected ':'") }
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { throw error("expected ',' or '}'") }
        return .object(members)
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        skipSpace()
        if take(UInt8(ascii: "]")) { return .array(items) }
        repeat { items.append(try value(depth: depth + 1)); skipSpace() } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "]")) else { throw error("expected ',' or ']'") }
        return .array(items)
    }

    private mutating func string() throws -> String {
        pos += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() throws {
            guard !raw.isEmpty else { return }
            guard let s = String(validating: raw, as: UTF8.self) else { throw error("string is not UTF-8") }
            scalars.append(contentsOf: s.unicodeScalars)
            raw.removeAll()
        }
        while true {
            guard pos < bytes.count else { throw error("unterminated string") }
            let b = bytes[pos]
            pos += 1
            switch b {
            case UInt8(ascii: "\""):
                try flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush()
                scalars.append(try escape())
            case 0..<0x20: throw error("control character in string")
            default: raw.append(b)
            }
        }
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard pos < bytes.count else { throw error("unterminated escape") }
        let e = bytes[pos]
        pos += 1
        switch e {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            var value = try hex4()
            if (0xD800...0xDBFF).contains(value) {
                guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")) else { throw error("lone surrogate") }
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate") }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(value) else { throw error("lone surrogate") }
            return scalar
        default: throw error("unknown escape")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16) else {
            throw error("expected four hex digits")
        }
        pos += 4
        return v
    }

    private mutating func number() throws -> String {
        let start = pos
        _ = take(UInt8(ascii: "-"))
        guard digits() > 0 else { throw error("unexpected character") }
        if take(UInt8(ascii: ".")) { guard digits() > 0 else { throw error("expected digits after '.'") } }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
            guard digits() > 0 else { throw error("expected exponent digits") }
        }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private mutating func digits() -> Int {
        let start = pos
        while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
        return pos - start
    }

    private mutating func word(_ w: String) throws {
        for c in w.utf8 { guard take(c) else { throw error("unexpected character") } }
    }

    private mutating func take(_ b: UInt8) -> Bool {
        guard pos < bytes.count, bytes[pos] == b else { return false }
        pos += 1
        return true
    }

    mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private func error(_ message: String) -> GrammarError { .invalidSchema("not JSON: \(message) at byte \(pos)") }
}

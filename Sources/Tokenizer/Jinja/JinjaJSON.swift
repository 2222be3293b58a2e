import Grammar
// `tojson` as llama-cpp-python and transformers define it for chat templates:
// Python's json.dumps with ensure_ascii=False (non-ASCII kept, no HTML
// escaping), separators ", " and ": " (or "," at line ends with an indent),
// keys in insertion order unless sort_keys.

enum JinjaJSON {
    static func encode(_ value: JinjaValue, indent: Int?, sortKeys: Bool = false) throws -> String {
        var out = ""
        try write(value, indent: indent, level: 0, sortKeys: sortKeys, into: &out)
        return out
    }

    private static func write(_ value: JinjaValue, indent: Int?, level: Int, sortKeys: Bool, into out: inout String) throws {
        switch value {
        case .undefined, .none: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += JinjaValue.pythonFloat(d) }
        case let .string(s): out += quoted(s)
        case let .array(items):
            try container(items.map { (nil, $0) }, open: "[", close: "]", indent: indent, level: level, sortKeys: sortKeys, into: &out)
        case let .object(o):
            var pairs = o.pairs
            if sortKeys { pairs.sort { $0.0 < $1.0 } }
            try container(pairs.map { ($0.0, $0.1) }, open: "{", close: "}", indent: indent, level: level, sortKeys: sortKeys, into: &out)
        case let .namespace(ns):
            try write(.object(ns.object), indent: indent, level: level, sortKeys: sortKeys, into: &out)
        default:
            throw JinjaError(.runtime, "Object of type \(value.typeName) is not JSON serializable")
        }
    }

    private static func container(_ entries: [(String?, JinjaValue)], open: String, close: String, indent: Int?,
                                  level: Int, sortKeys: Bool, into out: inout String) throws {
        out += open
        guard !entries.isEmpty else { out += close; return }
        let newline = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) }
        for (i, entry) in entries.enumerated() {
            if i > 0 { out += indent == nil ? ", " : "," }
            if let newline { out += newline }
            if let key = entry.0 { out += quoted(key) + ": " }
            try write(entry.1, indent: indent, level: level + 1, sortKeys: sortKeys, into: &out)
        }
        if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
        out += close
    }

    /// JSON's quoting as Python's `json.dumps` writes it (`\b`, `\f`, and
    /// `\u00XX` for other control characters), which templates expect.
    static func quoted(_ s: String) -> String {
        JSONValue.quoted(s) { code in
            switch code {
            case 0x08: "\\b"
            case 0x0C: "\\f"
            default: "\\u00" + (code < 0x10 ? "0" : "") + String(code, radix: 16)
            }
        }
    }
}

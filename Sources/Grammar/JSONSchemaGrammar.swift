/// Turns a JSON Schema into GBNF whose sentences are JSON documents that
/// validate against it. What the grammar cannot promise (patterns, numeric
/// bounds, formats, …) is refused up front, naming the keyword and where.
///
/// Choices a schema leaves open, documented in docs/structured-output.md:
/// properties come out in the schema's order; an object with `properties` admits no other keys unless
/// `additionalProperties` is `true`; `oneOf` is treated as `anyOf`.
public struct JSONSchemaGrammar {
    public private(set) var gbnf = ""
    private var rules: [String: String] = [:]
    private var order: [String] = []
    private var definitions: [String: JSONValue] = [:]
    private var referenced: [String: String] = [:]
    private static let maxDepth = 64
    private static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment",
        "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
    ]
    private static let supported: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
        "enum", "const", "anyOf", "oneOf", "$ref", "minLength", "maxLength",
    ]

    /// Builds the grammar for the schema in `json` (UTF-8 JSON text).
    public init<Bytes: Sequence>(json: Bytes) throws where Bytes.Element == UInt8 {
        let schema = try JSONReader.parse(Array(json))
        for key in ["$defs", "definitions"] {
            if case .object(let defs)? = schema[key] {
                for (name, value) in defs { definitions["#/\(key)/\(name)"] = value }
            }
        }
        let root = try rule(for: schema, path: "#", depth: 0)
        emitCommonRules()
        gbnf = "root ::= \(root)\n" + order.map { "\($0) ::= \(rules[$0]!)\n" }.joined()
    }

    /// The compiled grammar.
    public func grammar() throws -> Grammar { try Grammar(gbnf: gbnf) }

    // MARK: Schemas

    /// A GBNF expression matching the schema's values.
    private mutating func rule(for schema: JSONValue, path: String, depth: Int) throws -> String {
        guard depth <= Self.maxDepth else { throw GrammarError.unsupportedSchema(feature: "nesting deeper than \(Self.maxDepth)", path: path) }
        if case .bool(let flag) = schema {
            guard flag else { throw GrammarError.unsupportedSchema(feature: "false schema", path: path) }
            return "value"
        }
        guard case .object(let members) = schema else { throw GrammarError.invalidSchema("schema at \(path) is not an object") }
        let s = schema
        for key in members.map(\.key) where !Self.supported.contains(key) && !Self.annotations.contains(key) && !key.hasPrefix("x-") {
            throw GrammarError.unsupportedSchema(feature: key, path: path)
        }
        if let ref = s["$ref"] { return try reference(ref, path: path, depth: depth) }
        if let value = s["const"] { return literal(value) }
        if let values = s["enum"] {
            guard case .array(let values) = values, !values.isEmpty else { throw GrammarError.invalidSchema("enum at \(path) is not a non-empty array") }
            return "(" + values.map(literal).joined(separator: " | ") + ")"
        }
        for key in ["anyOf", "oneOf"] {
            guard let branches = s[key] else { continue }
            guard case .array(let branches) = branches, !branches.isEmpty else { throw GrammarError.invalidSchema("\(key) at \(path) is not a non-empty array") }
            let parts = try branches.enumerated().map { try rule(for: $1, path: "\(path)/\(key)/\($0)", depth: depth + 1) }
            return "(" + parts.joined(separator: " | ") + ")"
        }
        let types = try typeList(s, path: path)
        let parts = try types.map { try rule(forType: $0, s, path: path, depth: depth) }
        return parts.count == 1 ? parts[0] : "(" + parts.joined(separator: " | ") + ")"
    }

    private func typeList(_ s: JSONValue, path: String) throws -> [String] {
        switch s["type"] {
        case nil:
            if s["properties"] != nil || s["additionalProperties"] != nil { return ["object"] }
            if s["items"] != nil { return ["array"] }
            return ["any"]
        case .string(let t)?: return [t]
        case .array(let ts)?:
            let names = ts.compactMap { if case .string(let n) = $0 { n } else { nil } }
            guard names.count == ts.count, !names.isEmpty else { throw GrammarError.invalidSchema("type at \(path) is not a string or array of strings") }
            return names
        default: throw GrammarError.invalidSchema("type at \(path) is not a string or array of strings")
        }
    }

    private mutating func rule(forType type: String, _ s: JSONValue, path: String, depth: Int) throws -> String {
        switch type {
        case "any": return "value"
        case "null": return "null"
        case "boolean": return "boolean"
        case "integer": return "integer"
        case "number": return "number"
        case "string": return try string(s, path: path)
        case "array": return try array(s, path: path, depth: depth)
        case "object": return try object(s, path: path, depth: depth)
        default: throw GrammarError.invalidSchema("unknown type '\(type)' at \(path)")
        }
    }

    private mutating func string(_ s: JSONValue, path: String) throws -> String {
        let low = try count(s, "minLength", path: path) ?? 0
        let high = try count(s, "maxLength", path: path)
        if low == 0 && high == nil { return "string" }
        if let high, high < low { throw GrammarError.invalidSchema("maxLength below minLength at \(path)") }
        return "\"\\\"\" char{\(low),\(high.map(String.init) ?? "")} \"\\\"\" ws"
    }

    private mutating func array(_ s: JSONValue, path: String, depth: Int) throws -> String {
        let item = try s["items"].map { try rule(for: $0, path: "\(path)/items", depth: depth + 1) } ?? "value"
        let low = try count(s, "minItems", path: path) ?? 0
        let high = try count(s, "maxItems", path: path)
        if let high, high < low { throw GrammarError.invalidSchema("maxItems below minItems at \(path)") }
        if high == 0 { return "\"[\" ws \"]\" ws" }
        let more = "(\",\" ws \(item)){\(max(low, 1) - 1),\(high.map { String($0 - 1) } ?? "")}"
        let list = "\(item) \(more)"
        return name("\(path)/array", "\"[\" ws " + (low == 0 ? "(\(list))?" : list) + " \"]\" ws")
    }

    private mutating func object(_ s: JSONValue, path: String, depth: Int) throws -> String {
        let additional = s["additionalProperties"]
        guard let properties = s["properties"] else {
            if let additional, !additional.isBool {
                let value = try rule(for: additional, path: "\(path)/additionalProperties", depth: depth + 1)
                let pair = "string \":\" ws \(value)"
                return name("\(path)/map", "\"{\" ws (\(pair) (\",\" ws \(pair))*)? \"}\" ws")
            }
            if additional == .bool(false) { return "\"{\" ws \"}\" ws" }
            return "object"
        }
        if let additional, additional != .bool(false) {
            throw GrammarError.unsupportedSchema(feature: "additionalProperties alongside properties", path: path)
        }
        guard case .object(let props) = properties else { throw GrammarError.invalidSchema("properties at \(path) is not an object") }
        var required = Set<String>()
        if case .array(let names)? = s["required"] {
            for case .string(let n) in names { required.insert(n) }
        }
        for key in required where !props.contains(where: { $0.key == key }) {
            throw GrammarError.unsupportedSchema(feature: "required property '\(key)' without a schema", path: path)
        }
        var pairs: [(rule: String, required: Bool)] = []
        for (key, schema) in props {
            let value = try rule(for: schema, path: "\(path)/properties/\(key)", depth: depth + 1)
            pairs.append(("\(literal(.string(key))) \":\" ws \(value)", required.contains(key)))
        }
        let body = pairs.isEmpty ? "" : firstPairs(pairs, from: 0, path: path)
        return name("\(path)/object", "\"{\" ws \(body) \"}\" ws")
    }

    /// Pairs `from`… with none written yet: any in-order subset holding every
    /// required one. `first(i) ::= p_i rest(i+1)`, or `… | first(i+1)` when p_i is optional.
    private mutating func firstPairs(_ pairs: [(rule: String, required: Bool)], from i: Int, path: String) -> String {
        guard i < pairs.count else { return "" }
        let rest = restPairs(pairs, from: i + 1, path: path)
        let written = "\(pairs[i].rule) \(rest)"
        if pairs[i].required { return name("\(path)/first\(i)", written) }
        let skipped = firstPairs(pairs, from: i + 1, path: path)
        return name("\(path)/first\(i)", skipped.isEmpty ? "(\(written))?" : "\(written) | \(skipped)")
    }

    /// Pairs `from`… after one was written: each behind a comma, the optional ones optional.
    private mutating func restPairs(_ pairs: [(rule: String, required: Bool)], from i: Int, path: String) -> String {
        guard i < pairs.count else { return "" }
        let comma = "\",\" ws \(pairs[i].rule)"
        let rest = restPairs(pairs, from: i + 1, path: path)
        return name("\(path)/rest\(i)", (pairs[i].required ? comma : "(\(comma))?") + " " + rest)
    }

    private mutating func reference(_ ref: JSONValue, path: String, depth: Int) throws -> String {
        guard case .string(let ref) = ref else { throw GrammarError.invalidSchema("$ref at \(path) is not a string") }
        if let known = referenced[ref] { return known }
        guard let target = definitions[ref] else { throw GrammarError.unsupportedSchema(feature: "$ref '\(ref)' (only #/$defs/… and #/definitions/…)", path: path) }
        let ruleName = uniqueName("ref-" + ref)
        referenced[ref] = ruleName
        order.append(ruleName)
        rules[ruleName] = "" // reserved: recursion refers to it while it is built
        rules[ruleName] = try rule(for: target, path: ref, depth: depth + 1)
        return ruleName
    }

    // MARK: Pieces

    private func count(_ s: JSONValue, _ key: String, path: String) throws -> Int? {
        guard let raw = s[key] else { return nil }
        guard case .number(let text) = raw, let n = Double(text), n >= 0, n == n.rounded(), n <= 1000 else {
            throw GrammarError.unsupportedSchema(feature: "\(key) that is not a whole number from 0 to 1000", path: path)
        }
        return Int(n)
    }

    /// A GBNF literal for a JSON value, written as compact JSON.
    private func literal(_ value: JSONValue) -> String {
        Self.gbnfQuoted(value.compact) + " ws"
    }

    /// A GBNF string literal: JSON's escapes, with `\xHH` for other control characters.
    static func gbnfQuoted(_ text: String) -> String {
        JSONValue.quoted(text) { "\\x" + (($0 < 0x10) ? "0" : "") + String($0, radix: 16) }
    }

    private mutating func name(_ hint: String, _ body: String) -> String {
        if let existing = order.first(where: { rules[$0] == body }) { return existing }
        let n = uniqueName(hint)
        order.append(n)
        rules[n] = body
        return n
    }

    private func uniqueName(_ hint: String) -> String {
        let base = String(hint.unicodeScalars.map { GBNFParser.isNameScalar($0.value) ? Character($0) : "-" })
            .split(separator: "-").joined(separator: "-")
        var candidate = base.isEmpty ? "r" : base
        var n = 1
        while rules[candidate] != nil || Self.common[candidate] != nil || candidate == "root" {
            n += 1
            candidate = "\(base)-\(n)"
        }
        return candidate
    }

    private mutating func emitCommonRules() {
        for (key, body) in Self.common.sorted(by: { $0.key < $1.key }) where rules[key] == nil {
            rules[key] = body
            order.append(key)
        }
    }

    /// JSON's own grammar, bounded where a model could otherwise loop forever
    /// (digits, whitespace).
    static let common: [String: String] = [
        "ws": #"| " " | "\n" [ \t]{0,20}"#,
        "value": "object | array | string | number | boolean | null",
        "object": #""{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}" ws"#,
        "array": #""[" ws (value ("," ws value)*)? "]" ws"#,
        "string": #""\"" char* "\"" ws"#,
        "char": #"[^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})"#,
        "integer": #"("-"? ("0" | [1-9] [0-9]{0,15})) ws"#,
        "number": #"("-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?) ws"#,
        "boolean": #"("true" | "false") ws"#,
        "null": #""null" ws"#,
    ]
}

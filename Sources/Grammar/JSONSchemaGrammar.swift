import Foundation

/// Turns a JSON Schema into GBNF whose sentences are JSON documents that
/// validate against it. What the grammar cannot promise (patterns, numeric
/// bounds, formats, …) is refused up front, naming the keyword and where.
///
/// Choices a schema leaves open, documented in docs/structured-output.md:
/// properties come out in the order of their names; an object with `properties` admits no other keys unless
/// `additionalProperties` is `true`; `oneOf` is treated as `anyOf`.
public struct JSONSchemaGrammar {
    public private(set) var gbnf = ""
    private var rules: [String: String] = [:]
    private var order: [String] = []
    private var definitions: [String: Any] = [:]
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
    public init(json: Data) throws {
        let schema: Any
        do { schema = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed]) } catch {
            throw GrammarError.invalidSchema("not JSON: \(error.localizedDescription)")
        }
        if let object = schema as? [String: Any] {
            for key in ["$defs", "definitions"] {
                if let defs = object[key] as? [String: Any] {
                    for (name, value) in defs { definitions["#/\(key)/\(name)"] = value }
                }
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
    private mutating func rule(for schema: Any, path: String, depth: Int) throws -> String {
        guard depth <= Self.maxDepth else { throw GrammarError.unsupportedSchema(feature: "nesting deeper than \(Self.maxDepth)", path: path) }
        if let flag = schema as? Bool {
            guard flag else { throw GrammarError.unsupportedSchema(feature: "false schema", path: path) }
            return "value"
        }
        guard let s = schema as? [String: Any] else { throw GrammarError.invalidSchema("schema at \(path) is not an object") }
        for key in s.keys.sorted() where !Self.supported.contains(key) && !Self.annotations.contains(key) && !key.hasPrefix("x-") {
            throw GrammarError.unsupportedSchema(feature: key, path: path)
        }
        if let ref = s["$ref"] { return try reference(ref, path: path, depth: depth) }
        if let value = s["const"] { return try literal(value, path: path) }
        if let values = s["enum"] {
            guard let values = values as? [Any], !values.isEmpty else { throw GrammarError.invalidSchema("enum at \(path) is not a non-empty array") }
            return "(" + (try values.map { try literal($0, path: path) }).joined(separator: " | ") + ")"
        }
        for key in ["anyOf", "oneOf"] {
            guard let branches = s[key] else { continue }
            guard let branches = branches as? [Any], !branches.isEmpty else { throw GrammarError.invalidSchema("\(key) at \(path) is not a non-empty array") }
            let parts = try branches.enumerated().map { try rule(for: $1, path: "\(path)/\(key)/\($0)", depth: depth + 1) }
            return "(" + parts.joined(separator: " | ") + ")"
        }
        let types = try typeList(s, path: path)
        let parts = try types.map { try rule(forType: $0, s, path: path, depth: depth) }
        return parts.count == 1 ? parts[0] : "(" + parts.joined(separator: " | ") + ")"
    }

    private func typeList(_ s: [String: Any], path: String) throws -> [String] {
        switch s["type"] {
        case nil:
            if s["properties"] != nil || s["additionalProperties"] != nil { return ["object"] }
            if s["items"] != nil { return ["array"] }
            return ["any"]
        case let t as String: return [t]
        case let ts as [Any]:
            let names = ts.compactMap { $0 as? String }
            guard names.count == ts.count, !names.isEmpty else { throw GrammarError.invalidSchema("type at \(path) is not a string or array of strings") }
            return names
        default: throw GrammarError.invalidSchema("type at \(path) is not a string or array of strings")
        }
    }

    private mutating func rule(forType type: String, _ s: [String: Any], path: String, depth: Int) throws -> String {
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

    private mutating func string(_ s: [String: Any], path: String) throws -> String {
        let low = try count(s, "minLength", path: path) ?? 0
        let high = try count(s, "maxLength", path: path)
        if low == 0 && high == nil { return "string" }
        if let high, high < low { throw GrammarError.invalidSchema("maxLength below minLength at \(path)") }
        return "\"\\\"\" char{\(low),\(high.map(String.init) ?? "")} \"\\\"\" ws"
    }

    private mutating func array(_ s: [String: Any], path: String, depth: Int) throws -> String {
        let item = try s["items"].map { try rule(for: $0, path: "\(path)/items", depth: depth + 1) } ?? "value"
        let low = try count(s, "minItems", path: path) ?? 0
        let high = try count(s, "maxItems", path: path)
        if let high, high < low { throw GrammarError.invalidSchema("maxItems below minItems at \(path)") }
        if high == 0 { return "\"[\" ws \"]\" ws" }
        let more = "(\",\" ws \(item)){\(max(low, 1) - 1),\(high.map { String($0 - 1) } ?? "")}"
        let list = "\(item) \(more)"
        return name("\(path)/array", "\"[\" ws " + (low == 0 ? "(\(list))?" : list) + " \"]\" ws")
    }

    private mutating func object(_ s: [String: Any], path: String, depth: Int) throws -> String {
        let additional = s["additionalProperties"]
        guard let properties = s["properties"] else {
            if let additional, !(additional is Bool) {
                let value = try rule(for: additional, path: "\(path)/additionalProperties", depth: depth + 1)
                let pair = "string \":\" ws \(value)"
                return name("\(path)/map", "\"{\" ws (\(pair) (\",\" ws \(pair))*)? \"}\" ws")
            }
            if (additional as? Bool) == false { return "\"{\" ws \"}\" ws" }
            return "object"
        }
        if let additional, !(additional is Bool) || (additional as? Bool) == true {
            throw GrammarError.unsupportedSchema(feature: "additionalProperties alongside properties", path: path)
        }
        guard let props = properties as? [String: Any] else { throw GrammarError.invalidSchema("properties at \(path) is not an object") }
        let required = Set((s["required"] as? [Any] ?? []).compactMap { $0 as? String })
        for key in required where props[key] == nil {
            throw GrammarError.unsupportedSchema(feature: "required property '\(key)' without a schema", path: path)
        }
        // JSONSerialization does not keep the schema's key order: names sort, for a stable grammar.
        var pairs: [(rule: String, required: Bool)] = []
        for key in props.keys.sorted() {
            let value = try rule(for: props[key]!, path: "\(path)/properties/\(key)", depth: depth + 1)
            pairs.append(("\(try literal(key, path: path)) \":\" ws \(value)", required.contains(key)))
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

    private mutating func reference(_ ref: Any, path: String, depth: Int) throws -> String {
        guard let ref = ref as? String else { throw GrammarError.invalidSchema("$ref at \(path) is not a string") }
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

    private func count(_ s: [String: Any], _ key: String, path: String) throws -> Int? {
        guard let raw = s[key] else { return nil }
        guard let n = raw as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(), n.doubleValue <= 1000 else {
            throw GrammarError.unsupportedSchema(feature: "\(key) that is not a whole number from 0 to 1000", path: path)
        }
        return n.intValue
    }

    /// A GBNF literal for a JSON value, written as compact JSON.
    private func literal(_ value: Any, path: String) throws -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8) else { throw GrammarError.invalidSchema("value at \(path) cannot be written as JSON") }
        return Self.gbnfQuoted(text) + " ws"
    }

    static func gbnfQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\x%02X", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
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

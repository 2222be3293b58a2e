import Foundation

// Filters and `is` tests: the ones chat templates in the wild use.

extension JinjaInterpreter {
    func applyFilter(_ name: String, to value: JinjaValue, _ arguments: JinjaArguments) throws -> JinjaValue {
        let args = try arguments.positional.map(evaluate)
        var named: [String: JinjaValue] = [:]
        for argument in arguments.named { named[argument.name] = try evaluate(argument.value) }
        func arg(_ index: Int, _ key: String) -> JinjaValue? { index < args.count ? args[index] : named[key] }
        if case .undefined = value, !["default", "d", "length", "count", "string", "list", "tojson"].contains(name) {
            throw JinjaError(.runtime, "filter '\(name)' on an undefined value")
        }
        switch name {
        case "trim":
            let chars = arg(0, "chars").flatMap { v -> Set<Unicode.Scalar>? in if case let .string(c) = v { return Set(c.unicodeScalars) } else { return nil } }
            return .string(JinjaBuiltins.pythonStrip(value.text, leading: true, trailing: true) { chars?.contains($0) ?? $0.properties.isWhitespace })
        case "upper": return .string(value.text.uppercased())
        case "lower": return .string(value.text.lowercased())
        case "title": return .string(JinjaBuiltins.pythonTitle(value.text))
        case "capitalize": return .string(value.text.prefix(1).uppercased() + value.text.dropFirst().lowercased())
        case "string": return .string(value.text)
        case "safe": return value
        case "length", "count":
            switch value {
            case let .string(s): return .int(s.count)
            case let .array(a): return .int(a.count)
            case let .object(o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw JinjaError(.runtime, "object of type '\(value.typeName)' has no len()")
            }
        case "default", "d":
            let boolean = arg(1, "boolean")?.isTruthy ?? false
            let useDefault = boolean ? !value.isTruthy : value.isUndefined
            return useDefault ? (arg(0, "default_value") ?? .string("")) : value
        case "join":
            let separator = arg(0, "d")?.text ?? ""
            var items = try iterate(value)
            if let attribute = arg(1, "attribute") { items = try items.map { try member($0, attribute.text) } }
            return .string(items.map(\.text).joined(separator: separator))
        case "tojson":
            let indent = arg(0, "indent")?.integer
            return .string(try JinjaJSON.encode(value, indent: indent, sortKeys: named["sort_keys"]?.isTruthy ?? false))
        case "first": return try iterate(value).first ?? .undefined("first")
        case "last": return try iterate(value).last ?? .undefined("last")
        case "list": return .array(try iterate(value))
        case "reverse":
            if case let .string(s) = value { return .string(String(s.reversed())) }
            return .array(try iterate(value).reversed())
        case "items":
            guard case let .object(o) = value else { throw JinjaError(.runtime, "items filter on '\(value.typeName)'") }
            return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
        case "int":
            if let i = value.integer { return .int(i) }
            if case let .double(d) = value { return .int(Int(d)) }
            return .int(Int(value.text.trimmingCharacters(in: .whitespaces)) ?? (arg(0, "default")?.integer ?? 0))
        case "float":
            return .double(value.number ?? Double(value.text.trimmingCharacters(in: .whitespaces)) ?? 0)
        case "abs":
            if case let .int(i) = value { return .int(abs(i)) }
            return .double(abs(value.number ?? 0))
        case "replace":
            guard let old = arg(0, "old")?.text, let new = arg(1, "new")?.text else { throw JinjaError(.runtime, "replace filter takes two strings") }
            return .string(value.text.replacingOccurrences(of: old, with: new, options: .literal))
        case "indent": return .string(indent(value.text, width: arg(0, "width")?.integer ?? 4, first: arg(1, "first")?.isTruthy ?? false, blank: arg(2, "blank")?.isTruthy ?? false))
        case "map":
            let items = try iterate(value)
            if let attribute = named["attribute"] {
                return .array(try items.map { item in
                    let v = try member(item, attribute.text)
                    return v.isUndefined ? (named["default"] ?? v) : v
                })
            }
            guard let filterName = args.first?.text else { throw JinjaError(.runtime, "map() needs a filter name or attribute=") }
            let rest = JinjaArguments(positional: arguments.positional.dropFirst().map { $0 }, named: arguments.named)
            return .array(try items.map { try applyFilter(filterName, to: $0, rest) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            let rest = Array(arguments.positional.dropFirst(byAttribute ? 2 : 1))
            return .array(try iterate(value).filter { item in
                let subject = byAttribute ? try member(item, args.first?.text ?? "") : item
                let testName = byAttribute ? (args.count > 1 ? args[1].text : nil) : args.first?.text
                let passed = try testName.map { try applyTest($0, to: subject, JinjaArguments(positional: rest)) } ?? subject.isTruthy
                return passed == keep
            })
        case "unique":
            var seen: [JinjaValue] = []
            for item in try iterate(value) where !seen.contains(where: { $0.equals(item) }) { seen.append(item) }
            return .array(seen)
        case "sort":
            let attribute = named["attribute"]?.text
            let reverse = named["reverse"]?.isTruthy ?? false
            var keyed: [(item: JinjaValue, key: JinjaValue)] = []
            for item in try iterate(value) { keyed.append((item, try attribute.map { try member(item, $0) } ?? item)) }
            let sorted = try keyed.sorted { try compare(reverse ? ">" : "<", $0.key, $1.key) }
            return .array(sorted.map(\.item))
        case "dictsort":
            guard case let .object(o) = value else { throw JinjaError(.runtime, "dictsort on '\(value.typeName)'") }
            return .array(o.pairs.sorted { $0.0 < $1.0 }.map { .array([.string($0.0), $0.1]) })
        case "batch", "slice", "groupby", "wordwrap", "xmlattr", "urlencode", "format", "truncate", "center":
            throw JinjaError(.unsupported, "filter '\(name)'")
        default:
            throw JinjaError(.unsupported, "filter '\(name)'")
        }
    }

    private func indent(_ text: String, width: Int, first: Bool, blank: Bool) -> String {
        let pad = String(repeating: " ", count: max(width, 0))
        let lines = text.components(separatedBy: "\n")
        return lines.enumerated().map { i, line in
            if i == 0 && !first { return line }
            if line.isEmpty && !blank { return line }
            return pad + line
        }.joined(separator: "\n")
    }

    func applyTest(_ name: String, to value: JinjaValue, _ arguments: JinjaArguments) throws -> Bool {
        let args = try arguments.positional.map(evaluate)
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.equals(.none) && !value.isUndefined
        case "string": if case .string = value { return true } else { return false }
        case "number": return value.number != nil  // Python's bool is an int
        case "integer": if case .int = value { return true } else { return false }  // jinja2 excludes bools here
        case "float": if case .double = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "iterable", "sequence":
            switch value {
            case .string, .array: return true
            case .object: return true
            default: return false
            }
        case "callable":
            switch value {
            case .macro, .function, .boundMethod: return true
            default: return false
            }
        case "odd", "even", "divisibleby":
            guard let i = value.integer else { throw JinjaError(.runtime, "test '\(name)' on '\(value.typeName)'") }
            if name == "divisibleby" {
                guard let d = args.first?.integer, d != 0 else { throw JinjaError(.runtime, "divisibleby needs a non-zero integer") }
                return i % d == 0
            }
            return (abs(i) % 2 == 1) == (name == "odd")
        case "lower": return value.text == value.text.lowercased()
        case "upper": return value.text == value.text.uppercased()
        case "equalto", "eq", "==", "sameas": return value.equals(args.first ?? .none)
        case "ne", "!=": return !value.equals(args.first ?? .none)
        case "lt", "<", "lessthan": return try compare("<", value, args.first ?? .none)
        case "le", "<=": return try compare("<=", value, args.first ?? .none)
        case "gt", ">", "greaterthan": return try compare(">", value, args.first ?? .none)
        case "ge", ">=": return try compare(">=", value, args.first ?? .none)
        case "in": return try compare("in", value, args.first ?? .none)
        default: throw JinjaError(.unsupported, "test 'is \(name)'")
        }
    }
}

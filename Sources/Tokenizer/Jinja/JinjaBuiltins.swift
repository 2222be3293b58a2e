import Foundation

// Global functions and the Python methods real chat templates call on
// strings (strip, split, startswith, …) and dicts (items, get, …).

enum JinjaBuiltins {
    static let globalFunctions: Set<String> = ["range", "namespace", "raise_exception", "strftime_now", "dict"]

    static func callGlobal(_ name: String, _ args: [JinjaValue], _ named: [(String, JinjaValue)]) throws -> JinjaValue {
        switch name {
        case "range":
            let ints = try args.map { v -> Int in
                guard let i = v.integer else { throw JinjaError(.runtime, "range() takes integers, not '\(v.typeName)'") }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw JinjaError(.runtime, "range() takes 1 to 3 arguments")
            }
            guard step != 0 else { throw JinjaError(.runtime, "range() step must not be zero") }
            let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
            guard span / Double(abs(step)) <= 100_000 else { throw JinjaError(.runtime, "range() of more than 100000 items") }
            let values = Array(stride(from: start, to: stop, by: step))
            return .array(values.map { .int($0) })
        case "namespace", "dict":
            var object = JinjaObject()
            for arg in args {
                if case let .object(o) = arg { for (k, v) in o.pairs { object[k] = v } }
            }
            for (k, v) in named { object[k] = v }
            guard name == "namespace" else { return .object(object) }
            let ns = JinjaNamespace()
            ns.object = object
            return .namespace(ns)
        case "raise_exception":
            throw JinjaError(.raised, args.first?.text ?? "raise_exception called")
        case "strftime_now":
            guard case let .string(format)? = args.first else { throw JinjaError(.runtime, "strftime_now() takes a format string") }
            return .string(strftimeNow(format))
        default:
            throw JinjaError(.unsupported, "function \(name)()")
        }
    }

    private static func strftimeNow(_ format: String) -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 256)
        let length = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "replace", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "find", "rfind", "count", "join", "splitlines", "isdigit", "isalpha", "isspace",
        "islower", "isupper",
    ]
    static let objectMethods: Set<String> = ["items", "keys", "values", "get"]

    static func hasMethod(_ value: JinjaValue, _ name: String) -> Bool {
        switch value {
        case .string: return stringMethods.contains(name)
        case .object: return objectMethods.contains(name)
        default: return false
        }
    }

    static func callMethod(_ value: JinjaValue, _ name: String, _ args: [JinjaValue], _ named: [(String, JinjaValue)]) throws -> JinjaValue {
        switch value {
        case let .string(s): return try stringMethod(s, name, args)
        case let .object(o):
            switch name {
            case "items": return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            case "keys": return .array(o.keys.map { .string($0) })
            case "values": return .array(o.pairs.map(\.1))
            default:  // get
                guard case let .string(key)? = args.first else { return args.count > 1 ? args[1] : .none }
                return o[key] ?? (args.count > 1 ? args[1] : .none)
            }
        default: throw JinjaError(.unsupported, "method \(name)() on \(value.typeName)")
        }
    }

    private static func stringArgument(_ args: [JinjaValue], _ index: Int) -> String? {
        guard index < args.count, case let .string(s) = args[index] else { return nil }
        return s
    }

    private static func stringMethod(_ s: String, _ name: String, _ args: [JinjaValue]) throws -> JinjaValue {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = stringArgument(args, 0).map { Set($0.unicodeScalars) }
            let strip: (Unicode.Scalar) -> Bool = { chars?.contains($0) ?? $0.properties.isWhitespace }
            return .string(pythonStrip(s, leading: name != "rstrip", trailing: name != "lstrip", strip))
        case "split", "rsplit":
            let limit = args.count > 1 ? (args[1].integer ?? -1) : -1
            return .array(pythonSplit(s, separator: stringArgument(args, 0), limit: limit, fromRight: name == "rsplit").map { .string($0) })
        case "splitlines":
            return .array(s.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { .string(String($0)) }.dropLastIfEmpty(s))
        case "replace":
            guard let old = stringArgument(args, 0), let new = stringArgument(args, 1) else {
                throw JinjaError(.runtime, "replace() takes two strings")
            }
            let count = args.count > 2 ? (args[2].integer ?? -1) : -1
            return .string(pythonReplace(s, old, new, count: count))
        case "startswith", "endswith":
            let candidates: [String]
            switch args.first {
            case let .string(p)?: candidates = [p]
            case let .array(items)?: candidates = items.compactMap { if case let .string(p) = $0 { return p } else { return nil } }
            default: throw JinjaError(.runtime, "\(name)() takes a string or a tuple of strings")
            }
            let scalars = Array(s.unicodeScalars)
            return .bool(candidates.contains { p in
                let ps = Array(p.unicodeScalars)
                return name == "startswith" ? scalars.starts(with: ps) : scalars.reversed().starts(with: ps.reversed())
            })
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(pythonTitle(s))
        case "capitalize": return .string(s.prefix(1).uppercased() + s.dropFirst().lowercased())
        case "find", "rfind":
            guard let needle = stringArgument(args, 0) else { throw JinjaError(.runtime, "\(name)() takes a string") }
            let hay = Array(s.unicodeScalars), n = Array(needle.unicodeScalars)
            let starts = hay.count >= n.count ? Array(0...(hay.count - n.count)) : []
            let hit = (name == "find" ? starts : starts.reversed()).first { Array(hay[$0..<($0 + n.count)]) == n }
            return .int(hit ?? -1)
        case "count":
            guard let needle = stringArgument(args, 0), !needle.isEmpty else { throw JinjaError(.runtime, "count() takes a non-empty string") }
            return .int(s.components(separatedBy: needle).count - 1)
        case "join":
            guard let items = args.first, case let .array(list) = items else { throw JinjaError(.runtime, "join() takes a list") }
            return .string(list.map(\.text).joined(separator: s))
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.properties.isAlphabetic))
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.properties.isWhitespace))
        case "islower": return .bool(s.contains { $0.isCased } && s == s.lowercased())
        default: return .bool(s.contains { $0.isCased } && s == s.uppercased())  // isupper
        }
    }

    static func pythonStrip(_ s: String, leading: Bool, trailing: Bool, _ strip: (Unicode.Scalar) -> Bool = { $0.properties.isWhitespace }) -> String {
        var scalars = Substring(s).unicodeScalars[...]
        if leading { while let f = scalars.first, strip(f) { scalars.removeFirst() } }
        if trailing { while let l = scalars.last, strip(l) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    private static func pythonSplit(_ s: String, separator: String?, limit: Int, fromRight: Bool) -> [String] {
        guard let separator, !separator.isEmpty else {
            // No separator: runs of whitespace split, edges ignored.
            let words = s.unicodeScalars.split(whereSeparator: \.properties.isWhitespace).map { String(String.UnicodeScalarView($0)) }
            guard limit >= 0, words.count > limit + 1 else { return words }
            return fromRight ? Array(words.prefix(words.count - limit)).joinedWords() + words.suffix(limit) : Array(words.prefix(limit)) + [words.dropFirst(limit).joined(separator: " ")]
        }
        let parts = s.components(separatedBy: separator)
        guard limit >= 0, parts.count > limit + 1 else { return parts }
        if fromRight {
            return [parts.prefix(parts.count - limit).joined(separator: separator)] + parts.suffix(limit)
        }
        return Array(parts.prefix(limit)) + [parts.dropFirst(limit).joined(separator: separator)]
    }

    private static func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        guard count >= 0 else { return s.replacingOccurrences(of: old, with: new, options: .literal) }
        var parts = s.components(separatedBy: old)
        guard parts.count > count + 1 else { return parts.joined(separator: new) }
        let head = parts.prefix(count + 1).joined(separator: new)
        parts.removeFirst(count + 1)
        return ([head] + parts).joined(separator: old)
    }

    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s {
            out += previousCased ? c.lowercased() : c.uppercased()
            previousCased = c.isCased
        }
        return out
    }
}

private extension Array where Element == String {
    func joinedWords() -> [String] { [joined(separator: " ")] }
}

private extension Array where Element == JinjaValue {
    func dropLastIfEmpty(_ s: String) -> [JinjaValue] {
        guard s.last?.isNewline == true, case .string("")? = last else { return self }
        return Array(dropLast())
    }
}

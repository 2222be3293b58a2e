import Foundation

// Runtime values, behaving as the Python objects jinja2 would hold: truth,
// equality, str() and repr() follow Python so output matches a jinja2 render.

/// `namespace()` objects are the one mutable value templates share by reference.
final class JinjaNamespace {
    var object = JinjaObject()
}

struct JinjaObject {
    private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if storage[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            storage[key] = newValue
        }
    }

    var count: Int { keys.count }
    var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0]!) } }
}

enum JinjaValue {
    case undefined(String)  // the name that was looked up, for error messages
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object(JinjaObject)
    case namespace(JinjaNamespace)
    case macro(JinjaMacro)
    case function(String)  // a built-in global: range, namespace, raise_exception, …
    case boundMethod(JinjaValueBox, String)

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .array(a): return !a.isEmpty
        case let .object(o): return o.count > 0
        case .namespace, .macro, .function, .boundMethod: return true
        }
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .macro: return "Macro"
        case .function, .boundMethod: return "function"
        }
    }

    /// Python's str(): what `{{ value }}` prints.
    var text: String {
        switch self {
        case .undefined: return ""
        case let .string(s): return s
        default: return repr
        }
    }

    /// Python's repr(), as str() of a list or dict shows its items.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .double(d): return JinjaValue.pythonFloat(d)
        case let .string(s): return JinjaValue.pythonStringRepr(s)
        case let .array(a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case let .object(o): return "{" + o.pairs.map { "\(JinjaValue.pythonStringRepr($0.0)): \($0.1.repr)" }.joined(separator: ", ") + "}"
        case let .namespace(n): return "<Namespace \(JinjaValue.object(n.object).repr)>"
        case let .macro(m): return "<Macro '\(m.name)'>"
        case let .function(name), let .boundMethod(_, name): return "<function \(name)>"
        }
    }

    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == d.rounded() && abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"  // Swift prints the shortest round-trip digits, as Python's repr
    }

    static func pythonStringRepr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote { out += "\\\(quote)" }
                else if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\x%02x", scalar.value) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + String(quote)
    }

    /// Python ==: numbers compare by value across int/float/bool, containers deeply.
    func equals(_ other: JinjaValue) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case let (.object(a), .object(b)):
            return a.count == b.count && a.pairs.allSatisfy { key, value in b[key].map { value.equals($0) } ?? false }
        case let (.namespace(a), .namespace(b)): return a === b
        default:
            if let a = number, let b = other.number { return a == b }
            return false
        }
    }

    /// The numeric value of int, float and bool (Python's bool is an int).
    var number: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    var integer: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// Boxes a value so `.boundMethod` (a method looked up but not yet called) can hold it.
final class JinjaValueBox {
    let value: JinjaValue
    init(_ value: JinjaValue) { self.value = value }
}

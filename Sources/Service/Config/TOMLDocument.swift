/// A value of the TOML subset the config uses.
enum TOMLValue: Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])

    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .array: "array"
        }
    }
}

/// One `key = value` with the line it came from, for error messages.
struct TOMLEntry: Equatable {
    var key: String
    var value: TOMLValue
    var line: Int
}

/// A parsed file: tables by dotted name ("" is the root), in file order.
struct TOMLDocument {
    var tables: [(name: String, line: Int, entries: [TOMLEntry])] = [("", 0, [])]

    func table(_ name: String) -> (line: Int, entries: [TOMLEntry])? {
        tables.first { $0.name == name }.map { ($0.line, $0.entries) }
    }
}

/// A config file problem, naming the line (1-based) and key when known.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(path: String, line: Int?, key: String?, message: String) {
        self.path = path
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = path
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }
}

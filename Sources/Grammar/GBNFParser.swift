/// Reads GBNF, llama.cpp's grammar notation:
///
///     root  ::= "{" ws pair ("," ws pair)* "}"
///     pair  ::= [a-z]+ ":" ws [0-9]{1,3}
///     ws    ::= [ \t\n]*
///
/// Literals in double quotes, classes in brackets (`^` negates, `a-z`
/// ranges), `.` for any scalar, groups, `*` `+` `?` `{m}` `{m,}` `{m,n}`,
/// `#` comments. A rule ends at a newline unless inside parentheses or after
/// `::=` or `|`. Hostile text gets an error with its line and column.
struct GBNFParser {
    indirect enum Node {
        case literal([UInt32])
        case scalars([ClosedRange<UInt32>], negated: Bool)
        case ref(String, at: Int)
        case group([[Node]])
        case repetition(Node, min: Int, max: Int?)
    }

    static let maxRepetition = 1000
    static let maxNesting = 64

    private let text: [UInt32]
    private var pos = 0
    private var depth = 0
    private(set) var rules: [(name: String, alternatives: [[Node]])] = []

    init(_ source: String) {
        text = source.unicodeScalars.map(\.value)
    }

    func compile(root: String) throws -> Grammar {
        var parser = self
        try parser.parseRules()
        var compiler = GrammarCompiler()
        return try compiler.compile(parser.rules, root: root)
    }

    // MARK: Rules

    private mutating func parseRules() throws {
        skipSpace(newlines: true)
        while pos < text.count {
            let name = try parseName()
            skipSpace(newlines: false)
            guard consume("::=") else { throw error("expected '::=' after rule name '\(name)'") }
            skipSpace(newlines: true)
            let alternatives = try parseAlternatives()
            rules.append((name, alternatives))
            skipSpace(newlines: false)
            if pos < text.count {
                guard text[pos] == 0x0A || text[pos] == 0x0D else { throw error("expected end of line after rule '\(name)'") }
            }
            skipSpace(newlines: true)
        }
    }

    private mutating func parseAlternatives() throws -> [[Node]] {
        var alternatives = [try parseSequence()]
        while pos < text.count, text[pos] == UInt32(UInt8(ascii: "|")) {
            pos += 1
            skipSpace(newlines: true)
            alternatives.append(try parseSequence())
        }
        return alternatives
    }

    private mutating func parseSequence() throws -> [Node] {
        var items: [Node] = []
        while pos < text.count {
            let c = text[pos]
            guard let primary = try parsePrimary(c) else { break }
            items.append(try parseRepetition(of: primary))
            skipSpace(newlines: depth > 0)
        }
        return items
    }

    private mutating func parsePrimary(_ c: UInt32) throws -> Node? {
        switch c {
        case ascii("\""):
            pos += 1
            return .literal(try parseLiteral())
        case ascii("["):
            pos += 1
            return try parseClass()
        case ascii("."):
            pos += 1
            return .scalars([0...0x10FFFF], negated: false)
        case ascii("("):
            pos += 1
            depth += 1
            guard depth <= Self.maxNesting else { throw error("groups nested deeper than \(Self.maxNesting)") }
            skipSpace(newlines: true)
            let alternatives = try parseAlternatives()
            skipSpace(newlines: true)
            guard pos < text.count, text[pos] == ascii(")") else { throw error("expected ')'") }
            pos += 1
            depth -= 1
            return .group(alternatives)
        default:
            guard Self.isNameScalar(c) else { return nil }
            let at = pos
            let name = try parseName()
            // `name ::=` starts the next rule: this sequence is over.
            var ahead = pos
            while ahead < text.count, text[ahead] == 0x20 || text[ahead] == 0x09 { ahead += 1 }
            if depth == 0, ahead + 2 < text.count, text[ahead] == ascii(":"), text[ahead + 1] == ascii(":") {
                throw error("expected end of line before rule '\(name)'", at: at)
            }
            return .ref(name, at: at)
        }
    }

    private mutating func parseRepetition(of node: Node) throws -> Node {
        guard pos < text.count else { return node }
        switch text[pos] {
        case ascii("*"): pos += 1; return .repetition(node, min: 0, max: nil)
        case ascii("+"): pos += 1; return .repetition(node, min: 1, max: nil)
        case ascii("?"): pos += 1; return .repetition(node, min: 0, max: 1)
        case ascii("{"):
            pos += 1
            let low = try parseCount() ?? 0
            var high: Int? = low
            if pos < text.count, text[pos] == ascii(",") {
                pos += 1
                high = try parseCount()
            }
            guard pos < text.count, text[pos] == ascii("}") else { throw error("expected '}' to close a repetition") }
            pos += 1
            if let high, high < low { throw error("repetition {\(low),\(high)} has its maximum below its minimum") }
            return .repetition(node, min: low, max: high)
        default: return node
        }
    }

    private mutating func parseCount() throws -> Int? {
        skipSpace(newlines: false)
        var value: Int?
        while pos < text.count, let digit = Self.digit(text[pos]) {
            value = (value ?? 0) * 10 + digit
            guard value! <= Self.maxRepetition else { throw error("repetition count above \(Self.maxRepetition)") }
            pos += 1
        }
        skipSpace(newlines: false)
        return value
    }

    // MARK: Tokens

    private mutating func parseName() throws -> String {
        let start = pos
        while pos < text.count, Self.isNameScalar(text[pos]) { pos += 1 }
        guard pos > start else { throw error("expected a rule name") }
        return String(String.UnicodeScalarView(text[start..<pos].compactMap(Unicode.Scalar.init)))
    }

    private mutating func parseLiteral() throws -> [UInt32] {
        var scalars: [UInt32] = []
        while true {
            guard pos < text.count, text[pos] != 0x0A else { throw error("unterminated string literal") }
            if text[pos] == ascii("\"") {
                pos += 1
                return scalars
            }
            scalars.append(try parseScalar())
        }
    }

    private mutating func parseClass() throws -> Node {
        var negated = false
        if pos < text.count, text[pos] == ascii("^") {
            negated = true
            pos += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        while true {
            guard pos < text.count, text[pos] != 0x0A else { throw error("unterminated character class") }
            if text[pos] == ascii("]") {
                pos += 1
                return .scalars(ranges, negated: negated)
            }
            let low = try parseScalar()
            var high = low
            if pos + 1 < text.count, text[pos] == ascii("-"), text[pos + 1] != ascii("]") {
                pos += 1
                high = try parseScalar()
                guard high >= low else { throw error("character range is reversed") }
            }
            ranges.append(low...high)
        }
    }

    private mutating func parseScalar() throws -> UInt32 {
        let c = text[pos]
        pos += 1
        guard c == ascii("\\") else { return c }
        guard pos < text.count else { throw error("escape at end of text") }
        let e = text[pos]
        pos += 1
        switch e {
        case ascii("n"): return 0x0A
        case ascii("r"): return 0x0D
        case ascii("t"): return 0x09
        case ascii("x"): return try parseHex(digits: 2)
        case ascii("u"): return try parseHex(digits: 4)
        case ascii("U"): return try parseHex(digits: 8)
        case ascii("\\"), ascii("\""), ascii("["), ascii("]"), ascii("-"), ascii("^"), ascii("/"): return e
        default: throw error("unknown escape '\\\(Unicode.Scalar(e).map(String.init) ?? "?")'")
        }
    }

    private mutating func parseHex(digits: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard pos < text.count, let d = Self.hexDigit(text[pos]) else { throw error("expected \(digits) hex digits") }
            value = value << 4 | d
            pos += 1
        }
        guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else { throw error("escape is not a Unicode scalar") }
        return value
    }

    private mutating func skipSpace(newlines: Bool) {
        while pos < text.count {
            switch text[pos] {
            case 0x20, 0x09: pos += 1
            case 0x0A, 0x0D:
                guard newlines else { return }
                pos += 1
            case ascii("#"):
                while pos < text.count, text[pos] != 0x0A { pos += 1 }
            default: return
            }
        }
    }

    private mutating func consume(_ s: String) -> Bool {
        let scalars = s.unicodeScalars.map(\.value)
        guard pos + scalars.count <= text.count, Array(text[pos..<pos + scalars.count]) == scalars else { return false }
        pos += scalars.count
        return true
    }

    // MARK: Errors and classes

    func location(_ at: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for c in text[..<min(at, text.count)] {
            if c == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    private func error(_ message: String, at: Int? = nil) -> GrammarError {
        let (line, column) = location(at ?? pos)
        return .syntax(line: line, column: column, message: message)
    }

    static func isNameScalar(_ c: UInt32) -> Bool {
        (0x61...0x7A).contains(c) || (0x41...0x5A).contains(c) || (0x30...0x39).contains(c) || c == 0x2D || c == 0x5F
    }

    private static func digit(_ c: UInt32) -> Int? { (0x30...0x39).contains(c) ? Int(c - 0x30) : nil }

    private static func hexDigit(_ c: UInt32) -> UInt32? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}

@inline(__always) private func ascii(_ c: Unicode.Scalar) -> UInt32 { c.value }

// Splits a Jinja template into text and tags, applying whitespace control the
// way jinja2 does with trim_blocks and lstrip_blocks on (as llama.cpp's minja
// and llama-cpp-python's Jinja2ChatFormatter both configure it): `{%-`/`-%}`
// strip all whitespace on that side, a block or comment tag eats the newline
// that follows it, and spaces before a block tag alone on its line vanish.

enum JinjaToken: Equatable, Sendable {
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
}

struct JinjaTag: Sendable {
    var tokens: [JinjaToken]
    var line: Int
}

enum JinjaSegment: Sendable {
    case text(String)
    case output(JinjaTag)
    case statement(JinjaTag)
}

/// What went wrong with a template: where, and which construct.
public struct JinjaError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case syntax = "syntax error"
        case unsupported = "unsupported construct"
        case runtime = "error"
        case raised = "raise_exception"
    }
    public let kind: Kind
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "chat template \(kind.rawValue): \(message)" }
}

struct JinjaLexer {
    private let s: [Unicode.Scalar]
    private var i = 0
    private var line = 1

    init(_ template: String) {
        var scalars = Array(template.unicodeScalars)
        // jinja2's keep_trailing_newline=False: one final newline is dropped.
        if scalars.last == "\n" {
            scalars.removeLast()
            if scalars.last == "\r" { scalars.removeLast() }
        }
        s = scalars
    }

    static func segments(_ template: String) throws -> [JinjaSegment] {
        var lexer = JinjaLexer(template)
        return try lexer.run()
    }

    private mutating func run() throws -> [JinjaSegment] {
        var segments: [JinjaSegment] = []
        var lineStarting = true
        var pendingText = ""
        while i < s.count {
            let tagStart = nextTag(from: i)
            var text = String(String.UnicodeScalarView(s[i..<tagStart]))
            countLines(i, tagStart)
            i = tagStart
            guard tagStart < s.count else {
                pendingText += text
                break
            }
            let kind = s[i + 1]
            let modifier: Unicode.Scalar? = i + 2 < s.count ? s[i + 2] : nil
            if modifier == "-" {
                text = String(text.unicodeScalars.reversed().drop(while: \.properties.isWhitespace).reversed()
                    .map(Character.init))
            } else if modifier != "+" && kind != "{" {
                text = Self.lstripBlock(text, lineStarting: lineStarting)
            }
            pendingText += text
            i += (modifier == "-" || modifier == "+") ? 3 : 2
            let tagLine = line
            if kind == "#" {
                try skipComment()
            } else {
                if !pendingText.isEmpty { segments.append(.text(pendingText)) }
                pendingText = ""
                let tokens = try tokens(closing: kind == "{" ? "}" : "%")
                let tag = JinjaTag(tokens: tokens, line: tagLine)
                segments.append(kind == "{" ? .output(tag) : .statement(tag))
            }
            lineStarting = afterTag(trimsNewline: kind != "{")
        }
        if !pendingText.isEmpty { segments.append(.text(pendingText)) }
        return segments
    }

    private func nextTag(from start: Int) -> Int {
        var j = start
        while j + 1 < s.count {
            if s[j] == "{" && (s[j + 1] == "{" || s[j + 1] == "%" || s[j + 1] == "#") { return j }
            j += 1
        }
        return s.count
    }

    private mutating func countLines(_ from: Int, _ to: Int) {
        for k in from..<to where s[k] == "\n" { line += 1 }
    }

    // lstrip_blocks: whitespace between the line start and a block tag goes.
    private static func lstripBlock(_ text: String, lineStarting: Bool) -> String {
        let scalars = Array(text.unicodeScalars)
        let lineStart = (scalars.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
        guard lineStart > 0 || lineStarting, lineStart < scalars.count,
              scalars[lineStart...].allSatisfy(\.properties.isWhitespace) else { return text }
        return String(String.UnicodeScalarView(scalars[..<lineStart]))
    }

    /// After a closing delimiter: `-` eats all following whitespace, and
    /// trim_blocks eats one newline after `%}`/`#}`. Returns whether the
    /// next text starts a line (for lstrip_blocks).
    private mutating func afterTag(trimsNewline: Bool) -> Bool {
        if closedWithMinus {
            var last: Unicode.Scalar? = nil
            while i < s.count && s[i].properties.isWhitespace {
                last = s[i]
                if s[i] == "\n" { line += 1 }
                i += 1
            }
            return last == "\n"
        }
        if trimsNewline {
            if i < s.count && s[i] == "\n" { i += 1; line += 1; return true }
            if i + 1 < s.count && s[i] == "\r" && s[i + 1] == "\n" { i += 2; line += 1; return true }
        }
        return false
    }

    private var closedWithMinus = false

    private mutating func skipComment() throws {
        while i + 1 < s.count {
            if s[i] == "#" && s[i + 1] == "}" {
                closedWithMinus = i > 0 && s[i - 1] == "-"
                i += 2
                return
            }
            if s[i] == "\n" { line += 1 }
            i += 1
        }
        throw JinjaError(.syntax, "line \(line): comment not closed with #}")
    }

    private mutating func tokens(closing: Unicode.Scalar) throws -> [JinjaToken] {
        var out: [JinjaToken] = []
        let startLine = line
        var braces = 0  // "}}" inside a dict literal ({'o': {}}) does not close the tag
        while true {
            while i < s.count && s[i].properties.isWhitespace {
                if s[i] == "\n" { line += 1 }
                i += 1
            }
            guard i < s.count else {
                throw JinjaError(.syntax, "line \(startLine): tag not closed with \(closing)}")
            }
            if s[i] == "-" && i + 2 < s.count && s[i + 1] == closing && s[i + 2] == "}" {
                closedWithMinus = true
                i += 3
                return out
            }
            if s[i] == closing && i + 1 < s.count && s[i + 1] == "}" && (closing != "}" || braces == 0) {
                closedWithMinus = false
                i += 2
                return out
            }
            let token = try token()
            if token == .op("{") { braces += 1 } else if token == .op("}") { braces -= 1 }
            out.append(token)
        }
    }

    private mutating func token() throws -> JinjaToken {
        let c = s[i]
        if c == "'" || c == "\"" { return .string(try stringLiteral(quote: c)) }
        if c.properties.numericType != nil && c.isASCII { return number() }
        if c == "_" || c.properties.isAlphabetic {
            let start = i
            while i < s.count && (s[i] == "_" || s[i].properties.isAlphabetic || (s[i].isASCII && s[i].properties.numericType != nil)) { i += 1 }
            return .name(String(String.UnicodeScalarView(s[start..<i])))
        }
        for op in ["//", "**", "==", "!=", "<=", ">="] where matches(op) {
            i += 2
            return .op(op)
        }
        if "+-*/%~<>()[]{}.,:|=".unicodeScalars.contains(c) {
            i += 1
            return .op(String(c))
        }
        throw JinjaError(.syntax, "line \(line): unexpected character '\(c)'")
    }

    private func matches(_ op: String) -> Bool {
        let o = Array(op.unicodeScalars)
        return i + 1 < s.count && s[i] == o[0] && s[i + 1] == o[1]
    }

    private mutating func number() -> JinjaToken {
        let start = i
        func digits() { while i < s.count && (s[i].isASCII && s[i].properties.numericType != nil || s[i] == "_") { i += 1 } }
        digits()
        var isFloat = false
        if i + 1 < s.count && s[i] == "." && s[i + 1].isASCII && s[i + 1].properties.numericType != nil {
            isFloat = true
            i += 1
            digits()
        }
        if i < s.count && (s[i] == "e" || s[i] == "E") {
            isFloat = true
            i += 1
            if i < s.count && (s[i] == "+" || s[i] == "-") { i += 1 }
            digits()
        }
        let text = String(String.UnicodeScalarView(s[start..<i])).replacingOccurrences(of: "_", with: "")
        if !isFloat, let value = Int(text) { return .integer(value) }
        return .float(Double(text) ?? 0)
    }

    private mutating func stringLiteral(quote: Unicode.Scalar) throws -> String {
        var out = String.UnicodeScalarView()
        i += 1
        while i < s.count {
            let c = s[i]
            if c == quote { i += 1; return String(out) }
            if c == "\n" { line += 1 }
            if c == "\\" && i + 1 < s.count {
                i += 1
                out.append(contentsOf: try escape(s[i]))
            } else {
                out.append(c)
            }
            i += 1
        }
        throw JinjaError(.syntax, "line \(line): string literal not closed")
    }

    // Python string escapes, as jinja2 decodes string literals.
    private mutating func escape(_ c: Unicode.Scalar) throws -> [Unicode.Scalar] {
        switch c {
        case "n": return ["\n"]
        case "t": return ["\t"]
        case "r": return ["\r"]
        case "0": return ["\0"]
        case "b": return ["\u{08}"]
        case "f": return ["\u{0C}"]
        case "v": return ["\u{0B}"]
        case "a": return ["\u{07}"]
        case "\\", "'", "\"": return [c]
        case "\n": return []
        case "x", "u", "U":
            let width = c == "x" ? 2 : (c == "u" ? 4 : 8)
            guard i + width < s.count,
                  let value = UInt32(String(String.UnicodeScalarView(s[(i + 1)...(i + width)])), radix: 16),
                  let scalar = Unicode.Scalar(value) else {
                throw JinjaError(.syntax, "line \(line): bad \\\(c) escape")
            }
            i += width
            return [scalar]
        default: return ["\\", c]
        }
    }
}

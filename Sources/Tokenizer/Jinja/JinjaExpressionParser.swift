// Expressions inside one tag, with jinja2's precedence: conditional, or, and,
// not, comparisons, + -, ~, * / // %, **, unary -, then primaries with
// postfix member/index/call and filters / `is` tests bound tightest.

struct JinjaTokenStream {
    private var tokens: [JinjaToken]
    private var index = 0
    private var nesting = 0
    private static let maxNesting = 64  // hostile files: no stack overflow on "((((…"
    let line: Int

    init(_ tag: JinjaTag) {
        tokens = tag.tokens
        line = tag.line
    }

    var atEnd: Bool { index >= tokens.count }
    private var current: JinjaToken? { index < tokens.count ? tokens[index] : nil }

    private func error(_ message: String) -> JinjaError { JinjaError(.syntax, "line \(line): \(message)") }

    mutating func expectEnd() throws {
        if let current { throw error("unexpected \(Self.describe(current)) before the end of the tag") }
    }

    mutating func name() throws -> String {
        guard case let .name(n)? = current else { throw error("expected a name, found \(current.map(Self.describe) ?? "the end of the tag")") }
        index += 1
        return n
    }

    func peekOp(_ op: String) -> Bool { current == .op(op) }
    func peekName(_ name: String) -> Bool { current == .name(name) }

    mutating func skipOp(_ op: String) -> Bool {
        guard peekOp(op) else { return false }
        index += 1
        return true
    }

    mutating func skipName(_ name: String) -> Bool {
        guard peekName(name) else { return false }
        index += 1
        return true
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw error("expected '\(op)', found \(current.map(Self.describe) ?? "the end of the tag")") }
    }

    mutating func expectName(_ name: String) throws {
        guard skipName(name) else { throw error("expected '\(name)', found \(current.map(Self.describe) ?? "the end of the tag")") }
    }

    /// Removes a parenthesised group from the front and returns it as a stream.
    mutating func takeBalancedParentheses() -> JinjaTokenStream {
        var depth = 0
        let start = index
        repeat {
            if current == .op("(") { depth += 1 } else if current == .op(")") { depth -= 1 }
            index += 1
        } while depth > 0 && index < tokens.count
        return JinjaTokenStream(JinjaTag(tokens: Array(tokens[start..<index]), line: line))
    }

    static func describe(_ token: JinjaToken) -> String {
        switch token {
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s.prefix(20))'"
        case let .integer(v): return "\(v)"
        case let .float(v): return "\(v)"
        case let .op(o): return "'\(o)'"
        }
    }

    // MARK: expressions

    mutating func expression(allowConditional: Bool = true) throws -> JinjaExpr {
        let value = try or()
        guard allowConditional, skipName("if") else { return value }
        let condition = try or()
        let otherwise = skipName("else") ? try expression() : nil
        return .conditional(value, condition: condition, otherwise: otherwise)
    }

    private mutating func or() throws -> JinjaExpr {
        var left = try and()
        while skipName("or") { left = .or(left, try and()) }
        return left
    }

    private mutating func and() throws -> JinjaExpr {
        var left = try not()
        while skipName("and") { left = .and(left, try not()) }
        return left
    }

    private mutating func nested<T>(_ body: (inout JinjaTokenStream) throws -> T) throws -> T {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else { throw error("expression nested more than \(Self.maxNesting) deep") }
        return try body(&self)
    }

    private mutating func not() throws -> JinjaExpr {
        if skipName("not") { return try nested { .not(try $0.not()) } }
        return try compare()
    }

    private mutating func compare() throws -> JinjaExpr {
        let left = try additive()
        var chain: [JinjaComparison] = []
        while true {
            if case let .op(o)? = current, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                index += 1
                chain.append(JinjaComparison(op: o, right: try additive()))
            } else if skipName("in") {
                chain.append(JinjaComparison(op: "in", right: try additive()))
            } else if peekName("not"), index + 1 < tokens.count, tokens[index + 1] == .name("in") {
                index += 2
                chain.append(JinjaComparison(op: "not in", right: try additive()))
            } else {
                break
            }
        }
        return chain.isEmpty ? left : .compare(left, chain)
    }

    private mutating func additive() throws -> JinjaExpr {
        var left = try concat()
        while let op = [("+"), ("-")].first(where: { peekOp($0) }) {
            index += 1
            left = .binary(op, left, try concat())
        }
        return left
    }

    private mutating func concat() throws -> JinjaExpr {
        var left = try multiplicative()
        while skipOp("~") { left = .binary("~", left, try multiplicative()) }
        return left
    }

    private mutating func multiplicative() throws -> JinjaExpr {
        var left = try power()
        while let op = ["*", "/", "//", "%"].first(where: { peekOp($0) }) {
            index += 1
            left = .binary(op, left, try power())
        }
        return left
    }

    private mutating func power() throws -> JinjaExpr {
        var left = try unary()
        while skipOp("**") { left = .binary("**", left, try unary()) }
        return left
    }

    private mutating func unary() throws -> JinjaExpr {
        if skipOp("-") { return try nested { try $0.filtersAndTests(.negate(try $0.unary(filters: false))) } }
        if skipOp("+") { return try unary() }
        return try unary(filters: true)
    }

    private mutating func unary(filters: Bool) throws -> JinjaExpr {
        if !filters && (peekOp("-") || peekOp("+")) {
            let negative = skipOp("-")
            if !negative { index += 1 }
            let inner = try nested { try $0.unary(filters: false) }
            return negative ? .negate(inner) : inner
        }
        let value = try nested { try $0.postfix(try $0.primary()) }
        return filters ? try filtersAndTests(value) : value
    }

    private mutating func filtersAndTests(_ start: JinjaExpr) throws -> JinjaExpr {
        var value = start
        while true {
            if skipOp("|") {
                let name = try dottedName()
                let args = peekOp("(") ? try arguments() : JinjaArguments()
                value = .filter(value, name, args)
            } else if skipName("is") {
                let negated = skipName("not")
                let name = try dottedName()
                var args = JinjaArguments()
                if peekOp("(") {
                    args = try arguments()
                } else if let token = current, startsTestArgument(token) {
                    args.positional = [try postfix(try primary())]
                }
                value = .test(value, name, args, negated: negated)
            } else if peekOp("(") {
                value = .call(value, try arguments())
            } else {
                return value
            }
        }
    }

    private func startsTestArgument(_ token: JinjaToken) -> Bool {
        switch token {
        case let .name(n): return !["else", "or", "and", "if", "is", "not", "in"].contains(n)
        case .string, .integer, .float: return true
        case let .op(o): return o == "[" || o == "{"
        }
    }

    private mutating func dottedName() throws -> String {
        var name = try self.name()
        while skipOp(".") { name += "." + (try self.name()) }
        return name
    }

    private mutating func primary() throws -> JinjaExpr {
        guard let token = current else { throw error("expected an expression, found the end of the tag") }
        index += 1
        switch token {
        case var .string(s):
            while case let .string(more)? = current { s += more; index += 1 }  // "a" "b" concatenates
            return .string(s)
        case let .integer(v): return .integer(v)
        case let .float(v): return .float(v)
        case let .name(n):
            switch n {
            case "true", "True": return .boolean(true)
            case "false", "False": return .boolean(false)
            case "none", "None": return .none
            default: return .name(n)
            }
        case .op("("):
            if skipOp(")") { return .tuple([]) }
            let first = try expression()
            if skipOp(")") { return first }
            var items = [first]
            while skipOp(",") && !peekOp(")") { items.append(try expression()) }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            var items: [JinjaExpr] = []
            while !skipOp("]") {
                items.append(try expression())
                if !peekOp("]") { try expectOp(",") }
            }
            return .list(items)
        case .op("{"):
            var entries: [JinjaDictEntry] = []
            while !skipOp("}") {
                let key = try expression()
                try expectOp(":")
                entries.append(JinjaDictEntry(key: key, value: try expression()))
                if !peekOp("}") { try expectOp(",") }
            }
            return .dict(entries)
        default:
            throw error("unexpected \(Self.describe(token))")
        }
    }

    private mutating func postfix(_ start: JinjaExpr) throws -> JinjaExpr {
        var value = start
        while true {
            if skipOp(".") {
                if case let .integer(i)? = current {
                    index += 1
                    value = .index(value, .integer(i))
                } else {
                    value = .member(value, try name())
                }
            } else if skipOp("[") {
                value = try subscription(value)
            } else if peekOp("(") {
                value = .call(value, try arguments())
            } else {
                return value
            }
        }
    }

    private mutating func subscription(_ value: JinjaExpr) throws -> JinjaExpr {
        var parts: [JinjaExpr?] = [nil]
        var isSlice = false
        while !skipOp("]") {
            if skipOp(":") {
                isSlice = true
                parts.append(nil)
            } else {
                parts[parts.count - 1] = try expression()
            }
        }
        guard isSlice else {
            guard let key = parts[0] else { throw error("empty subscript") }
            return .index(value, key)
        }
        while parts.count < 3 { parts.append(nil) }
        return .slice(value, parts[0], parts[1], parts[2])
    }

    mutating func arguments() throws -> JinjaArguments {
        try expectOp("(")
        var args = JinjaArguments()
        while !skipOp(")") {
            if case let .name(n)? = current, index + 1 < tokens.count, tokens[index + 1] == .op("=") {
                index += 2
                args.named.append(JinjaNamedArgument(name: n, value: try expression()))
            } else {
                args.positional.append(try expression())
            }
            if !peekOp(")") { try expectOp(",") }
        }
        return args
    }
}

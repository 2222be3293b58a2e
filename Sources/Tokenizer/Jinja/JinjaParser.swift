// Parses lexed segments into nodes: the statements chat templates use
// (if/elif/else, for with loop filters and else, set incl. block set and
// namespace attributes, macro, call, filter blocks, break/continue,
// generation). Any other statement is refused with its name.

struct JinjaParser {
    private let segments: [JinjaSegment]
    private var position = 0

    static func parse(_ template: String) throws -> [JinjaNode] {
        var parser = JinjaParser(segments: try JinjaLexer.segments(template))
        let (nodes, end) = try parser.body(until: [])
        if let end { throw JinjaError(.syntax, "unexpected {% \(end) %}") }
        return nodes
    }

    private init(segments: [JinjaSegment]) { self.segments = segments }

    /// Nodes up to one of the `until` statements, which is consumed and returned
    /// with its tag's remaining tokens available through `pendingTag`.
    private var pendingTag: JinjaTokenStream?
    private var depth = 0
    private static let maxDepth = 64  // nested blocks; a hostile file cannot exhaust the stack

    private mutating func body(until ends: Set<String>) throws -> ([JinjaNode], String?) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw JinjaError(.syntax, "blocks nested more than \(Self.maxDepth) deep") }
        var nodes: [JinjaNode] = []
        while position < segments.count {
            let segment = segments[position]
            position += 1
            switch segment {
            case let .text(text): nodes.append(.text(text))
            case let .output(tag):
                var stream = JinjaTokenStream(tag)
                let expr = try stream.expression()
                try stream.expectEnd()
                nodes.append(.output(expr))
            case let .statement(tag):
                var stream = JinjaTokenStream(tag)
                let keyword = try stream.name()
                if ends.contains(keyword) {
                    pendingTag = stream
                    return (nodes, keyword)
                }
                nodes.append(try statement(keyword, &stream))
            }
        }
        if !ends.isEmpty {
            throw JinjaError(.syntax, "missing {% \(ends.sorted().joined(separator: " / ")) %} at the end of the template")
        }
        return (nodes, nil)
    }

    private mutating func statement(_ keyword: String, _ stream: inout JinjaTokenStream) throws -> JinjaNode {
        switch keyword {
        case "if": return try ifStatement(&stream)
        case "for": return try forStatement(&stream)
        case "set": return try setStatement(&stream)
        case "macro": return .macro(try macro(&stream, end: "endmacro"))
        case "call": return try callStatement(&stream)
        case "filter":
            let name = try stream.name()
            let args = stream.peekOp("(") ? try stream.arguments() : JinjaArguments()
            try stream.expectEnd()
            return .filterBlock(name, args, try block(until: "endfilter"))
        case "break", "continue":
            try stream.expectEnd()
            return keyword == "break" ? .breakLoop : .continueLoop
        case "generation":
            try stream.expectEnd()
            return .sequence(try block(until: "endgeneration"))
        default:
            throw JinjaError(.unsupported, "line \(stream.line): {% \(keyword) %}")
        }
    }

    private mutating func block(until end: String) throws -> [JinjaNode] {
        let (nodes, _) = try body(until: [end])
        try pendingTag?.expectEnd()
        return nodes
    }

    private mutating func ifStatement(_ stream: inout JinjaTokenStream) throws -> JinjaNode {
        var branches: [JinjaBranch] = []
        var condition = try stream.expression()
        try stream.expectEnd()
        while true {
            let (nodes, end) = try body(until: ["elif", "else", "endif"])
            branches.append(JinjaBranch(condition: condition, body: nodes))
            guard var tag = pendingTag else { break }
            switch end {
            case "elif":
                condition = try tag.expression()
                try tag.expectEnd()
            case "else":
                try tag.expectEnd()
                return .ifBlock(branches, otherwise: try block(until: "endif"))
            default:
                try tag.expectEnd()
                return .ifBlock(branches, otherwise: [])
            }
        }
        return .ifBlock(branches, otherwise: [])
    }

    private mutating func forStatement(_ stream: inout JinjaTokenStream) throws -> JinjaNode {
        var targets = [try stream.name()]
        while stream.skipOp(",") { targets.append(try stream.name()) }
        try stream.expectName("in")
        let iterable = try stream.expression(allowConditional: false)
        var filter: JinjaExpr?
        if stream.skipName("if") { filter = try stream.expression(allowConditional: false) }
        if stream.skipName("recursive") { throw JinjaError(.unsupported, "line \(stream.line): recursive for loops") }
        try stream.expectEnd()
        let (body, end) = try body(until: ["else", "endfor"])
        try pendingTag?.expectEnd()
        let otherwise = end == "else" ? try block(until: "endfor") : []
        return .forBlock(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
    }

    private mutating func setStatement(_ stream: inout JinjaTokenStream) throws -> JinjaNode {
        let first = try stream.name()
        if stream.skipOp(".") {
            let attribute = try stream.name()
            try stream.expectOp("=")
            let value = try stream.expression()
            try stream.expectEnd()
            return .set(.attribute(first, attribute), value)
        }
        var names = [first]
        while stream.skipOp(",") { names.append(try stream.name()) }
        if stream.atEnd && names.count == 1 {
            return .setBlock(first, try block(until: "endset"))
        }
        try stream.expectOp("=")
        let value = try stream.expression()
        try stream.expectEnd()
        return .set(.names(names), value)
    }

    private mutating func macro(_ stream: inout JinjaTokenStream, end: String, name: String? = nil) throws -> JinjaMacro {
        let macroName = try name ?? stream.name()
        var parameters: [String] = []
        var defaults: [String: JinjaExpr] = [:]
        if stream.skipOp("(") {
            while !stream.skipOp(")") {
                let parameter = try stream.name()
                parameters.append(parameter)
                if stream.skipOp("=") { defaults[parameter] = try stream.expression() }
                if !stream.peekOp(")") { try stream.expectOp(",") }
            }
        }
        try stream.expectEnd()
        return JinjaMacro(name: macroName, parameters: parameters, defaults: defaults, body: try block(until: end))
    }

    private mutating func callStatement(_ stream: inout JinjaTokenStream) throws -> JinjaNode {
        var callerParameters = JinjaTokenStream(JinjaTag(tokens: [], line: stream.line))
        if stream.peekOp("(") {
            // {% call(args) macro(...) %}: the caller's own parameters come first.
            callerParameters = stream.takeBalancedParentheses()
        }
        let call = try stream.expression()
        try stream.expectEnd()
        let body = try block(until: "endcall")
        var caller = try macroSignature(&callerParameters)
        caller.body = body
        return .callBlock(call, caller: caller)
    }

    private func macroSignature(_ stream: inout JinjaTokenStream) throws -> JinjaMacro {
        var parameters: [String] = []
        var defaults: [String: JinjaExpr] = [:]
        if stream.skipOp("(") {
            while !stream.skipOp(")") {
                let parameter = try stream.name()
                parameters.append(parameter)
                if stream.skipOp("=") { defaults[parameter] = try stream.expression() }
                if !stream.peekOp(")") { try stream.expectOp(",") }
            }
        }
        return JinjaMacro(name: "caller", parameters: parameters, defaults: defaults, body: [])
    }
}

// Load-time check: every filter, test and global function a template names
// must be one the interpreter implements, so an unsupported template is
// refused when the model loads, naming the construct, not on a request.

enum JinjaValidator {
    static let filters: Set<String> = [
        "trim", "upper", "lower", "title", "capitalize", "string", "safe", "length", "count", "default", "d",
        "join", "tojson", "first", "last", "list", "reverse", "items", "int", "float", "abs", "replace",
        "indent", "map", "select", "reject", "selectattr", "rejectattr", "unique", "sort", "dictsort",
    ]
    static let tests: Set<String> = [
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false",
        "mapping", "iterable", "sequence", "callable", "odd", "even", "divisibleby", "lower", "upper",
        "equalto", "eq", "==", "sameas", "ne", "!=", "lt", "<", "lessthan", "le", "<=", "gt", ">",
        "greaterthan", "ge", ">=", "in",
    ]

    static func check(_ nodes: [JinjaNode]) throws {
        for node in nodes { try check(node) }
    }

    private static func check(_ node: JinjaNode) throws {
        switch node {
        case .text, .breakLoop, .continueLoop: return
        case let .output(e): try check(e)
        case let .ifBlock(branches, otherwise):
            for b in branches {
                try check(b.condition)
                try check(b.body)
            }
            try check(otherwise)
        case let .forBlock(_, iterable, filter, body, otherwise):
            try check(iterable)
            if let filter { try check(filter) }
            try check(body)
            try check(otherwise)
        case let .set(_, e): try check(e)
        case let .setBlock(_, body), let .sequence(body): try check(body)
        case let .macro(m): try check(m)
        case let .callBlock(e, caller):
            try check(e)
            try check(caller)
        case let .filterBlock(name, args, body):
            try checkFilter(name, args)
            try check(body)
        }
    }

    private static func check(_ macro: JinjaMacro) throws {
        for d in macro.defaults.values { try check(d) }
        try check(macro.body)
    }

    private static func check(_ args: JinjaArguments) throws {
        for e in args.positional { try check(e) }
        for n in args.named { try check(n.value) }
    }

    private static func checkFilter(_ name: String, _ args: JinjaArguments) throws {
        guard filters.contains(name) else { throw JinjaError(.unsupported, "filter '\(name)'") }
        try check(args)
    }

    private static func check(_ expr: JinjaExpr) throws {
        switch expr {
        case .string, .integer, .float, .boolean, .none, .name: return
        case let .list(items), let .tuple(items): for e in items { try check(e) }
        case let .dict(entries):
            for entry in entries {
                try check(entry.key)
                try check(entry.value)
            }
        case let .member(e, _), let .negate(e), let .not(e): try check(e)
        case let .index(a, b), let .binary(_, a, b), let .and(a, b), let .or(a, b):
            try check(a)
            try check(b)
        case let .slice(e, a, b, c):
            try check(e)
            for part in [a, b, c] { if let part { try check(part) } }
        case let .call(callee, args):
            try check(callee)
            try check(args)
        case let .filter(e, name, args):
            try check(e)
            try checkFilter(name, args)
        case let .test(e, name, args, _):
            guard tests.contains(name) else { throw JinjaError(.unsupported, "test 'is \(name)'") }
            try check(e)
            try check(args)
        case let .compare(first, chain):
            try check(first)
            for link in chain { try check(link.right) }
        case let .conditional(value, condition, otherwise):
            try check(value)
            try check(condition)
            if let otherwise { try check(otherwise) }
        }
    }
}

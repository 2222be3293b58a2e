// The parsed form of a Jinja template: statements (nodes) and expressions.

struct JinjaNamedArgument: Sendable {
    var name: String
    var value: JinjaExpr
}

struct JinjaArguments: Sendable {
    var positional: [JinjaExpr] = []
    var named: [JinjaNamedArgument] = []
}

struct JinjaDictEntry: Sendable {
    var key: JinjaExpr
    var value: JinjaExpr
}

struct JinjaComparison: Sendable {
    var op: String  // ==, !=, <, <=, >, >=, in, not in
    var right: JinjaExpr
}

indirect enum JinjaExpr: Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case none
    case name(String)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([JinjaDictEntry])
    case member(JinjaExpr, String)
    case index(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
    case call(JinjaExpr, JinjaArguments)
    case filter(JinjaExpr, String, JinjaArguments)
    case test(JinjaExpr, String, JinjaArguments, negated: Bool)
    case negate(JinjaExpr)
    case not(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)  // + - * / // % ** ~
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case compare(JinjaExpr, [JinjaComparison])
    case conditional(JinjaExpr, condition: JinjaExpr, otherwise: JinjaExpr?)
}

struct JinjaBranch: Sendable {
    var condition: JinjaExpr
    var body: [JinjaNode]
}

struct JinjaMacro: Sendable {
    var name: String
    var parameters: [String]
    var defaults: [String: JinjaExpr]
    var body: [JinjaNode]
}

enum JinjaSetTarget: Sendable {
    case names([String])              // set a = …, set a, b = …
    case attribute(String, String)    // set ns.attr = …
}

indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr)
    case ifBlock([JinjaBranch], otherwise: [JinjaNode])
    case forBlock(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode])
    case set(JinjaSetTarget, JinjaExpr)
    case setBlock(String, [JinjaNode])
    case macro(JinjaMacro)
    case callBlock(JinjaExpr, caller: JinjaMacro)
    case filterBlock(String, JinjaArguments, [JinjaNode])
    case breakLoop
    case continueLoop
    case sequence([JinjaNode])  // a `generation` block: rendered as is
}

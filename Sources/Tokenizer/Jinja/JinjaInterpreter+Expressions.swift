import Foundation

// Expression evaluation with Python semantics: int/float arithmetic, string
// and list concatenation with +, ~ as str() concatenation, `in` on strings,
// lists and dict keys; undefined values print as nothing and are false, but
// using one in arithmetic or looking inside it is an error, as in jinja2.

extension JinjaInterpreter {
    func evaluate(_ expr: JinjaExpr) throws -> JinjaValue {
        switch expr {
        case let .string(s): return .string(s)
        case let .integer(i): return .int(i)
        case let .float(d): return .double(d)
        case let .boolean(b): return .bool(b)
        case .none: return .none
        case let .name(n): return lookup(n)
        case let .list(items), let .tuple(items): return .array(try items.map(evaluate))
        case let .dict(entries):
            var o = JinjaObject()
            for entry in entries {
                guard case let .string(key) = try evaluate(entry.key) else {
                    throw JinjaError(.unsupported, "dictionary keys other than strings")
                }
                o[key] = try evaluate(entry.value)
            }
            return .object(o)
        case let .member(base, name): return try member(try evaluate(base), name)
        case let .index(base, key): return try subscriptValue(try evaluate(base), try evaluate(key))
        case let .slice(base, start, stop, step):
            return try slice(try evaluate(base), try start.map(evaluate), try stop.map(evaluate), try step.map(evaluate))
        case let .call(callee, args): return try call(callee, args)
        case let .filter(value, name, args): return try applyFilter(name, to: try evaluate(value), args)
        case let .test(value, name, args, negated):
            let result = try applyTest(name, to: try evaluate(value), args)
            return .bool(result != negated)
        case let .negate(e):
            switch try evaluate(e) {
            case let .int(i): return .int(-i)
            case let .double(d): return .double(-d)
            case let v: throw JinjaError(.runtime, "bad operand type for unary -: '\(v.typeName)'")
            }
        case let .not(e): return .bool(!(try evaluate(e).isTruthy))
        case let .and(a, b):
            let left = try evaluate(a)
            return left.isTruthy ? try evaluate(b) : left
        case let .or(a, b):
            let left = try evaluate(a)
            return left.isTruthy ? left : try evaluate(b)
        case let .binary(op, a, b): return try binary(op, try evaluate(a), try evaluate(b))
        case let .compare(first, chain):
            var left = try evaluate(first)
            for link in chain {
                let right = try evaluate(link.right)
                if !(try compare(link.op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .conditional(value, condition, otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(value) }
            return try otherwise.map(evaluate) ?? .undefined("conditional without else")
        }
    }

    private func undefinedError(_ value: JinjaValue) -> JinjaError {
        if case let .undefined(name) = value { return JinjaError(.runtime, "'\(name)' is undefined") }
        return JinjaError(.runtime, "unexpected \(value.typeName)")
    }

    func member(_ base: JinjaValue, _ name: String) throws -> JinjaValue {
        switch base {
        case .undefined: throw undefinedError(base)
        case let .object(o):
            if let v = o[name] { return v }
            if JinjaBuiltins.hasMethod(base, name) { return .boundMethod(JinjaValueBox(base), name) }
            return .undefined(name)
        case let .namespace(ns): return ns.object[name] ?? .undefined(name)
        default:
            if JinjaBuiltins.hasMethod(base, name) { return .boundMethod(JinjaValueBox(base), name) }
            return .undefined(name)
        }
    }

    func subscriptValue(_ base: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
        switch (base, key) {
        case (.undefined, _): throw undefinedError(base)
        case let (.array(a), k):
            guard let i = k.integer else { return .undefined("[\(k.repr)]") }
            let j = i < 0 ? a.count + i : i
            return a.indices.contains(j) ? a[j] : .undefined("[\(i)]")
        case let (.string(s), k):
            guard let i = k.integer else { return .undefined("[\(k.repr)]") }
            let chars = Array(s)
            let j = i < 0 ? chars.count + i : i
            return chars.indices.contains(j) ? .string(String(chars[j])) : .undefined("[\(i)]")
        case let (.object(o), .string(k)):
            return o[k] ?? (JinjaBuiltins.hasMethod(base, k) ? .boundMethod(JinjaValueBox(base), k) : .undefined(k))
        case let (.namespace(ns), .string(k)): return ns.object[k] ?? .undefined(k)
        default: return .undefined("[\(key.repr)]")
        }
    }

    private func slice(_ base: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?) throws -> JinjaValue {
        func bound(_ v: JinjaValue?) throws -> Int? {
            guard let v, !(v.isUndefined), !v.equals(.none) else { return nil }
            guard let i = v.integer else { throw JinjaError(.runtime, "slice indices must be integers") }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw JinjaError(.runtime, "slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ v: Int?, _ fallback: Int) -> Int {
                guard var i = v else { return fallback }
                if i < 0 { i += count }
                return stepValue > 0 ? min(max(i, 0), count) : min(max(i, -1), count - 1)
            }
            let from = clamp(try bound(start), stepValue > 0 ? 0 : count - 1)
            let to = clamp(try bound(stop), stepValue > 0 ? count : -1)
            return Array(stride(from: from, to: to, by: stepValue))
        }
        switch base {
        case let .array(a): return .array(try indices(a.count).map { a[$0] })
        case let .string(s):
            let chars = Array(s)
            return .string(String(try indices(chars.count).map { chars[$0] }))
        default: throw JinjaError(.runtime, "'\(base.typeName)' object is not subscriptable")
        }
    }

    func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if op == "~" { return .string(a.text + b.text) }
        if a.isUndefined { throw undefinedError(a) }
        if b.isUndefined { throw undefinedError(b) }
        switch (op, a, b) {
        case let ("+", .string(x), .string(y)): return .string(x + y)
        case let ("+", .array(x), .array(y)): return .array(x + y)
        case let ("*", .string(x), .int(n)), let ("*", .int(n), .string(x)): return .string(String(repeating: x, count: max(n, 0)))
        default: break
        }
        if let x = a.integer, let y = b.integer, op != "/" && op != "**" || (op == "**" && y >= 0) {
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*": return .int(x &* y)
            case "//", "%":
                guard y != 0 else { throw JinjaError(.runtime, "integer division or modulo by zero") }
                let q = Int((Double(x) / Double(y)).rounded(.down))
                return op == "//" ? .int(q) : .int(x - q * y)
            case "**": return .int(Int(pow(Double(x), Double(y))))
            default: break
            }
        }
        guard let x = a.number, let y = b.number else {
            throw JinjaError(.runtime, "unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/":
            guard y != 0 else { throw JinjaError(.runtime, "division by zero") }
            return .double(x / y)
        case "//":
            guard y != 0 else { throw JinjaError(.runtime, "division by zero") }
            return .double((x / y).rounded(.down))
        case "%":
            guard y != 0 else { throw JinjaError(.runtime, "modulo by zero") }
            return .double(x - (x / y).rounded(.down) * y)
        default: return .double(pow(x, y))
        }
    }

    func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        switch op {
        case "==": return a.equals(b)
        case "!=": return !a.equals(b)
        case "in", "not in":
            let found: Bool
            switch b {
            case let .string(s):
                guard case let .string(needle) = a else { throw JinjaError(.runtime, "'in <string>' requires a string") }
                found = needle.isEmpty || s.contains(needle)
            case let .array(items): found = items.contains { $0.equals(a) }
            case let .object(o):
                if case let .string(key) = a { found = o[key] != nil } else { found = false }
            case .undefined: throw undefinedError(b)
            default: throw JinjaError(.runtime, "argument of type '\(b.typeName)' is not iterable")
            }
            return op == "in" ? found : !found
        default:
            let order: ComparisonResult
            if let x = a.number, let y = b.number {
                order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
            } else if case let .string(x) = a, case let .string(y) = b {
                order = Array(x.unicodeScalars.map(\.value)).lexicographicallyPrecedes(y.unicodeScalars.map(\.value))
                    ? .orderedAscending : (x == y ? .orderedSame : .orderedDescending)
            } else {
                throw JinjaError(.runtime, "'\(op)' not supported between '\(a.typeName)' and '\(b.typeName)'")
            }
            switch op {
            case "<": return order == .orderedAscending
            case "<=": return order != .orderedDescending
            case ">": return order == .orderedDescending
            default: return order != .orderedAscending
            }
        }
    }

    private func call(_ calleeExpr: JinjaExpr, _ arguments: JinjaArguments) throws -> JinjaValue {
        let callee = try evaluate(calleeExpr)
        let args = try arguments.positional.map(evaluate)
        let named = try arguments.named.map { ($0.name, try evaluate($0.value)) }
        switch callee {
        case let .macro(m): return try callMacro(m, args, named)
        case let .function(name): return try JinjaBuiltins.callGlobal(name, args, named)
        case let .boundMethod(box, name): return try JinjaBuiltins.callMethod(box.value, name, args, named)
        case .undefined:
            // "x.format(…)": a method the interpreter does not implement, named as such.
            if case let .member(_, name) = calleeExpr { throw JinjaError(.unsupported, "method \(name)()") }
            throw undefinedError(callee)
        default: throw JinjaError(.runtime, "'\(callee.typeName)' object is not callable")
        }
    }
}

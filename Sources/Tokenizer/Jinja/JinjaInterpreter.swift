// Runs parsed nodes. Scoping follows jinja2 where chat templates depend on
// it: a `for` body is its own scope (a `set` inside does not leak out, which
// is why templates use namespace()), `if` is not, macros see the template's
// top-level names plus their arguments.

final class JinjaInterpreter {
    private var frames: [[String: JinjaValue]]
    private var output = ""
    private var depth = 0
    private static let maxDepth = 64
    private var steps = 0
    private static let maxOutput = 16 << 20
    private static let maxSteps = 500_000  // a runaway template stops with an error

    init(globals: [String: JinjaValue]) {
        frames = [globals]
    }

    enum Flow { case normal, breakLoop, continueLoop }

    func render(_ nodes: [JinjaNode]) throws -> String {
        _ = try run(nodes)
        return output
    }

    private func run(_ nodes: [JinjaNode]) throws -> Flow {
        for node in nodes {
            let flow = try run(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func run(_ node: JinjaNode) throws -> Flow {
        steps += 1
        if steps > Self.maxSteps { throw JinjaError(.runtime, "template ran more than \(Self.maxSteps) steps") }
        if output.utf8.count > Self.maxOutput { throw JinjaError(.runtime, "template wrote more than \(Self.maxOutput) bytes") }
        switch node {
        case let .text(t): output += t
        case let .output(e): output += try evaluate(e).text
        case let .ifBlock(branches, otherwise):
            for branch in branches where try evaluate(branch.condition).isTruthy {
                return try run(branch.body)
            }
            return try run(otherwise)
        case let .forBlock(targets, iterable, filter, body, otherwise):
            return try runFor(targets, try evaluate(iterable), filter, body, otherwise)
        case let .set(target, expr):
            try assign(target, try evaluate(expr))
        case let .setBlock(name, body):
            frames[frames.count - 1][name] = .string(try capture(body))
        case let .macro(m):
            frames[frames.count - 1][m.name] = .macro(m)
        case let .callBlock(call, caller):
            frames.append(["caller": .macro(caller)])
            defer { frames.removeLast() }
            output += try evaluate(call).text
        case let .filterBlock(name, args, body):
            let text = JinjaValue.string(try capture(body))
            output += try applyFilter(name, to: text, args).text
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        case let .sequence(nodes): return try run(nodes)
        }
        return .normal
    }

    private func capture(_ body: [JinjaNode]) throws -> String {
        let saved = output
        output = ""
        defer { output = saved }
        _ = try run(body)
        return output
    }

    private func assign(_ target: JinjaSetTarget, _ value: JinjaValue) throws {
        switch target {
        case let .names(names) where names.count == 1:
            frames[frames.count - 1][names[0]] = value
        case let .names(names):
            let items = try iterate(value)
            guard items.count == names.count else {
                throw JinjaError(.runtime, "cannot unpack \(items.count) values into \(names.count) names")
            }
            for (name, item) in zip(names, items) { frames[frames.count - 1][name] = item }
        case let .attribute(name, attribute):
            guard case let .namespace(ns) = lookup(name) else {
                throw JinjaError(.runtime, "cannot set '\(attribute)' on '\(name)', which is not a namespace()")
            }
            ns.object[attribute] = value
        }
    }

    func lookup(_ name: String) -> JinjaValue {
        for frame in frames.reversed() {
            if let value = frame[name] { return value }
        }
        if JinjaBuiltins.globalFunctions.contains(name) { return .function(name) }
        return .undefined(name)
    }

    private func runFor(_ targets: [String], _ iterable: JinjaValue, _ filter: JinjaExpr?,
                        _ body: [JinjaNode], _ otherwise: [JinjaNode]) throws -> Flow {
        var items = try iterate(iterable)
        frames.append([:])
        defer { frames.removeLast() }
        if let filter {
            items = try items.filter { item in
                try bind(targets, item)
                return try evaluate(filter).isTruthy
            }
        }
        if items.isEmpty { return try run(otherwise) }
        for (position, item) in items.enumerated() {
            frames[frames.count - 1] = [:]
            try bind(targets, item)
            frames[frames.count - 1]["loop"] = Self.loopObject(position, items)
            if try run(body) == .breakLoop { break }
        }
        return .normal
    }

    private func bind(_ targets: [String], _ item: JinjaValue) throws {
        if targets.count == 1 {
            frames[frames.count - 1][targets[0]] = item
            return
        }
        let parts = try iterate(item)
        guard parts.count == targets.count else {
            throw JinjaError(.runtime, "cannot unpack \(parts.count) values into \(targets.count) loop variables")
        }
        for (name, part) in zip(targets, parts) { frames[frames.count - 1][name] = part }
    }

    private static func loopObject(_ position: Int, _ items: [JinjaValue]) -> JinjaValue {
        var loop = JinjaObject()
        let count = items.count
        loop["index"] = .int(position + 1)
        loop["index0"] = .int(position)
        loop["revindex"] = .int(count - position)
        loop["revindex0"] = .int(count - position - 1)
        loop["first"] = .bool(position == 0)
        loop["last"] = .bool(position == count - 1)
        loop["length"] = .int(count)
        loop["depth"] = .int(1)
        loop["depth0"] = .int(0)
        loop["previtem"] = position > 0 ? items[position - 1] : .undefined("loop.previtem")
        loop["nextitem"] = position + 1 < count ? items[position + 1] : .undefined("loop.nextitem")
        return .object(loop)
    }

    /// Iterating as Python does: a list's items, a dict's keys, a string's characters.
    func iterate(_ value: JinjaValue) throws -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case let .array(a): return a
        case let .object(o): return o.keys.map { .string($0) }
        case let .string(s): return s.map { .string(String($0)) }
        default: throw JinjaError(.runtime, "'\(value.typeName)' object is not iterable")
        }
    }

    // MARK: macros

    func callMacro(_ macro: JinjaMacro, _ args: [JinjaValue], _ named: [(String, JinjaValue)]) throws -> JinjaValue {
        guard depth < Self.maxDepth else { throw JinjaError(.runtime, "macros nested more than \(Self.maxDepth) deep") }
        var frame: [String: JinjaValue] = [:]
        guard args.count <= macro.parameters.count else {
            throw JinjaError(.runtime, "macro '\(macro.name)' takes \(macro.parameters.count) arguments, \(args.count) given")
        }
        for (i, parameter) in macro.parameters.enumerated() {
            if i < args.count { frame[parameter] = args[i] }
        }
        for (name, value) in named { frame[name] = value }
        if let caller = lookup("caller") as JinjaValue?, case .macro = caller, frame["caller"] == nil { frame["caller"] = caller }
        let saved = frames
        frames = [frames[0], frame]
        depth += 1
        defer {
            frames = saved
            depth -= 1
        }
        for parameter in macro.parameters where frame[parameter] == nil {
            frames[1][parameter] = try macro.defaults[parameter].map { try evaluate($0) } ?? .undefined(parameter)
        }
        return .string(try capture(macro.body))
    }
}

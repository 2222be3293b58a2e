/// Flattens parsed GBNF rules into a `Grammar`: groups and repetitions become
/// helper rules, literals become one element per scalar.
struct GrammarCompiler {
    typealias Node = GBNFParser.Node

    /// Bounds the work a hostile grammar can cause (`x{1000}` nested in `y{1000}`).
    static let maxElements = 1 << 18

    private var elements: [Grammar.Element] = []
    private var alternatives: [[Int]] = []
    private var names: [String] = []
    private var ids: [String: Int] = [:]
    /// Bodies still to be emitted: (rule index, its alternatives).
    private var pending: [(Int, [[Node]])] = []

    mutating func compile(_ rules: [(name: String, alternatives: [[Node]])], root: String) throws -> Grammar {
        var bodies: [String: [[Node]]] = [:]
        for rule in rules {
            // A name defined twice adds alternatives, as in llama.cpp.
            bodies[rule.name, default: []].append(contentsOf: rule.alternatives)
            if ids[rule.name] == nil { ids[rule.name] = newRule(named: rule.name) }
        }
        guard let rootID = ids[root] else { throw GrammarError.missingRoot(root) }
        for rule in rules where bodies[rule.name] != nil {
            pending.append((ids[rule.name]!, bodies.removeValue(forKey: rule.name)!))
        }
        while !pending.isEmpty {
            let (id, body) = pending.removeFirst()
            try emit(rule: id, body)
        }
        return try Grammar(elements: elements, alternatives: alternatives, ruleNames: names, root: rootID)
    }

    private mutating func newRule(named name: String) -> Int {
        names.append(name)
        alternatives.append([])
        return names.count - 1
    }

    private mutating func helper(_ base: Int, _ body: [[Node]]) -> Int {
        let id = newRule(named: "\(names[base])~\(names.count)")
        pending.append((id, body))
        return id
    }

    private mutating func emit(rule: Int, _ body: [[Node]]) throws {
        for sequence in body {
            alternatives[rule].append(elements.count)
            for node in sequence { try emit(node, in: rule) }
            try append(.end)
        }
    }

    private mutating func emit(_ node: Node, in rule: Int) throws {
        switch node {
        case .literal(let scalars):
            for s in scalars { try append(.scalars(ranges: [s...s], negated: false)) }
        case .scalars(let ranges, let negated):
            try append(.scalars(ranges: ranges, negated: negated))
        case .ref(let name, _):
            guard let id = ids[name] else { throw GrammarError.undefinedRule(name) }
            try append(.rule(id))
        case .group(let body):
            try append(.rule(helper(rule, body)))
        case .repetition(let item, let min, let max):
            for _ in 0..<min { try emit(item, in: rule) }
            if let max {
                if max > min { try append(.rule(optionalChain(item, count: max - min, in: rule))) }
            } else {
                try append(.rule(star(item, in: rule)))
            }
        }
    }

    /// `R ::= item R | ε`
    private mutating func star(_ item: Node, in rule: Int) -> Int {
        let id = newRule(named: "\(names[rule])~\(names.count)")
        pending.append((id, [[item, .ref(names[id], at: 0)], []]))
        ids[names[id]] = id
        return id
    }

    /// Up to `count` more items: `O_k ::= item O_(k-1) | ε`, `O_1 ::= item | ε`.
    private mutating func optionalChain(_ item: Node, count: Int, in rule: Int) -> Int {
        var previous: Int?
        for _ in 0..<count {
            let id = newRule(named: "\(names[rule])~\(names.count)")
            ids[names[id]] = id
            let tail: [Node] = previous.map { [.ref(names[$0], at: 0)] } ?? []
            pending.append((id, [[item] + tail, []]))
            previous = id
        }
        return previous!
    }

    private mutating func append(_ element: Grammar.Element) throws {
        guard elements.count < Self.maxElements else {
            throw GrammarError.tooLarge("more than \(Self.maxElements) elements after expanding repetitions")
        }
        elements.append(element)
    }
}

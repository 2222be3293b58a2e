/// A context-free grammar over Unicode scalars, compiled for matching.
///
/// Rules are flattened into one array of elements: each alternative of a
/// rule is a run of elements closed by `.end`, and a position in that array
/// is all a parse stack needs to remember. Repetition (`*`, `+`, `?`,
/// `{m,n}`) has already been rewritten into helper rules by the parser, so
/// matching only ever sees characters, rule references and ends.
public struct Grammar: Sendable {
    enum Element: Sendable, Equatable {
        /// One scalar from these inclusive ranges (or outside them, if negated).
        case scalars(ranges: [ClosedRange<UInt32>], negated: Bool)
        /// The rule with this index.
        case rule(Int)
        /// The end of an alternative.
        case end
    }

    var elements: [Element]
    /// For each rule, the positions where its alternatives start.
    var alternatives: [[Int]]
    /// Rule names, for error messages (helper rules get derived names).
    var ruleNames: [String]
    var root: Int

    /// Parses GBNF text (llama.cpp's grammar format); `root` names the start rule.
    public init(gbnf: String, root: String = "root") throws {
        self = try GBNFParser(gbnf).compile(root: root)
    }

    init(elements: [Element], alternatives: [[Int]], ruleNames: [String], root: Int) throws {
        self.elements = elements
        self.alternatives = alternatives
        self.ruleNames = ruleNames
        self.root = root
        try refuseLeftRecursion()
    }

    func matches(_ element: Element, _ scalar: UInt32) -> Bool {
        guard case .scalars(let ranges, let negated) = element else { return false }
        var inside = false
        for range in ranges where range.contains(scalar) {
            inside = true
            break
        }
        return inside != negated
    }
}

// MARK: - Left recursion

extension Grammar {
    /// A rule that can reach itself without consuming a scalar would make
    /// matching loop forever; such grammars are refused when built.
    private func refuseLeftRecursion() throws {
        let nullable = nullableRules()
        // leftCorners[r]: rules that r can start with before consuming anything.
        var leftCorners = [Set<Int>](repeating: [], count: alternatives.count)
        for rule in alternatives.indices {
            for start in alternatives[rule] {
                var pos = start
                scan: while true {
                    switch elements[pos] {
                    case .end, .scalars: break scan
                    case .rule(let r):
                        leftCorners[rule].insert(r)
                        if !nullable[r] { break scan }
                        pos += 1
                    }
                }
            }
        }
        if let rule = Self.ruleOnCycle(leftCorners) { throw GrammarError.leftRecursion(rule: ruleNames[rule]) }
    }

    /// A rule on a cycle of the graph, found in one depth-first pass
    /// (linear in rules and edges, however hostile the grammar).
    private static func ruleOnCycle(_ edges: [Set<Int>]) -> Int? {
        enum Mark { case new, open, done }
        var marks = [Mark](repeating: .new, count: edges.count)
        for start in edges.indices where marks[start] == .new {
            var stack: [(rule: Int, next: [Int])] = [(start, Array(edges[start]))]
            marks[start] = .open
            while !stack.isEmpty {
                guard let successor = stack[stack.count - 1].next.popLast() else {
                    marks[stack.removeLast().rule] = .done
                    continue
                }
                switch marks[successor] {
                case .open: return successor
                case .done: continue
                case .new:
                    marks[successor] = .open
                    stack.append((successor, Array(edges[successor])))
                }
            }
        }
        return nil
    }

    /// Rules that can match the empty string (fixed point over the alternatives).
    private func nullableRules() -> [Bool] {
        var nullable = [Bool](repeating: false, count: alternatives.count)
        var changed = true
        while changed {
            changed = false
            for rule in alternatives.indices where !nullable[rule] {
                for start in alternatives[rule] where alternativeIsNullable(start, nullable) {
                    nullable[rule] = true
                    changed = true
                    break
                }
            }
        }
        return nullable
    }

    private func alternativeIsNullable(_ start: Int, _ nullable: [Bool]) -> Bool {
        var pos = start
        while true {
            switch elements[pos] {
            case .end: return true
            case .scalars: return false
            case .rule(let r):
                if !nullable[r] { return false }
                pos += 1
            }
        }
    }
}

public enum GrammarError: Error, Equatable, CustomStringConvertible {
    case syntax(line: Int, column: Int, message: String)
    case undefinedRule(String)
    case missingRoot(String)
    case leftRecursion(rule: String)
    case tooLarge(String)
    case unsupportedSchema(feature: String, path: String)
    case invalidSchema(String)

    public var description: String {
        switch self {
        case .syntax(let line, let column, let message): "grammar line \(line), column \(column): \(message)"
        case .undefinedRule(let name): "grammar uses rule '\(name)' but never defines it"
        case .missingRoot(let name): "grammar has no rule '\(name)' to start from"
        case .leftRecursion(let rule): "grammar rule '\(rule)' can repeat without consuming input (left recursion)"
        case .tooLarge(let what): "grammar too large: \(what)"
        case .unsupportedSchema(let feature, let path): "JSON Schema feature '\(feature)' is not supported (at \(path))"
        case .invalidSchema(let message): "invalid JSON Schema: \(message)"
        }
    }
}

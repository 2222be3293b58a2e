/// Where a generation stands in a grammar: the set of parse stacks that
/// the text so far leaves open (a nondeterministic pushdown automaton, as
/// llama.cpp's grammar sampler). Text arrives as token bytes; a token may
/// split a UTF-8 character, so incomplete bytes wait in `pendingBytes`.
///
/// Stacks are linked lists of interned nodes (position, parent): equal
/// stacks are equal ids, so the set of open stacks dedups for free, and a
/// step shares every tail it does not touch.
public struct GrammarMatcher: Sendable {
    public let grammar: Grammar

    struct Node: Hashable, Sendable {
        var position: Int32
        var parent: Int32
    }

    /// Bounds the open stacks (an ambiguous grammar can multiply them).
    public static let maxStacks = 512

    private var nodes: [Node] = []
    private var interned: [Node: Int32] = [:]
    /// Nodes made while trying a token, dropped after the try.
    private var scratch: [Node] = []
    private var scratchInterned: [Node: Int32] = [:]
    private var trying = false

    /// Top nodes of the open stacks; each top is at a scalar element.
    private(set) var tops: [Int32] = []
    /// Whether the text so far is a whole sentence of the grammar.
    private var accepting = false
    private(set) var pendingBytes: [UInt8] = []

    public init(_ grammar: Grammar) {
        self.grammar = grammar
        var out = Expansion()
        for start in grammar.alternatives[grammar.root] { expand(start, parent: -1, into: &out) }
        tops = out.tops
        accepting = out.accepting
    }

    /// The text so far may end here (end-of-generation is allowed).
    public var isComplete: Bool { accepting && pendingBytes.isEmpty }

    /// Nothing can follow the text so far: generation must end.
    public var mustEnd: Bool { tops.isEmpty && pendingBytes.isEmpty }

    /// Whether appending `bytes` keeps the text inside the grammar.
    public mutating func accepts(_ bytes: [UInt8]) -> Bool {
        trying = true
        defer {
            trying = false
            scratch.removeAll(keepingCapacity: true)
            scratchInterned.removeAll(keepingCapacity: true)
        }
        return consume(bytes) != nil
    }

    /// Appends `bytes` to the text; false (and no change) if the grammar refuses them.
    @discardableResult
    public mutating func advance(_ bytes: [UInt8]) -> Bool {
        guard let next = consume(bytes) else { return false }
        (tops, accepting, pendingBytes) = (next.tops, next.accepting, next.pending)
        return true
    }

    /// Identifies where the matcher stands: equal keys allow the same tokens
    /// (stacks are interned, so equal stacks have equal ids).
    struct StateKey: Hashable, Sendable {
        var tops: [Int32]
        var accepting: Bool
        var pending: [UInt8]
    }

    var stateKey: StateKey { StateKey(tops: tops.sorted(), accepting: accepting, pending: pendingBytes) }

    /// Lead bytes a next token may start with (all 256 while a character is split).
    func allowedLeadBytes() -> [Bool] {
        guard pendingBytes.isEmpty else { return [Bool](repeating: true, count: 256) }
        var allowed = [Bool](repeating: false, count: 256)
        for top in tops {
            guard case .scalars(let ranges, let negated) = grammar.elements[Int(node(top).position)] else { continue }
            for range in negated ? UTF8Scalars.complement(ranges) : ranges {
                for b in UTF8Scalars.leadByte(range.lowerBound)...UTF8Scalars.leadByte(range.upperBound) { allowed[Int(b)] = true }
            }
        }
        return allowed
    }

    // MARK: Stepping

    private struct Expansion {
        var tops: [Int32] = []
        var seen: Set<Int32> = []
        var accepting = false
    }

    private mutating func consume(_ bytes: [UInt8]) -> (tops: [Int32], accepting: Bool, pending: [UInt8])? {
        guard !bytes.isEmpty, let decoded = UTF8Scalars.decode(pendingBytes.isEmpty ? bytes : pendingBytes + bytes) else { return nil }
        var current = tops
        var accepting = self.accepting
        for scalar in decoded.scalars {
            var out = Expansion()
            for top in current {
                let n = node(top)
                guard grammar.matches(grammar.elements[Int(n.position)], scalar) else { continue }
                expand(Int(n.position) + 1, parent: n.parent, into: &out)
                if out.tops.count > Self.maxStacks { return nil }
            }
            if out.tops.isEmpty && !out.accepting { return nil }
            current = out.tops
            accepting = out.accepting
        }
        if !decoded.rest.isEmpty && !current.contains(where: { canStart(UTF8Scalars.completions(of: decoded.rest), at: $0) }) {
            return nil
        }
        return (current, accepting, decoded.rest)
    }

    /// Whether the scalar element at `top` takes any scalar in `candidates`.
    private func canStart(_ candidates: ClosedRange<UInt32>, at top: Int32) -> Bool {
        guard case .scalars(let ranges, let negated) = grammar.elements[Int(node(top).position)] else { return false }
        return (negated ? UTF8Scalars.complement(ranges) : ranges).contains { $0.overlaps(candidates) }
    }

    /// Follows rule references and ends from `position` until every path
    /// stands at a scalar element (a new top) or has emptied its stack.
    private mutating func expand(_ position: Int, parent: Int32, into out: inout Expansion) {
        switch grammar.elements[position] {
        case .end:
            if parent < 0 {
                out.accepting = true
            } else {
                let p = node(parent)
                expand(Int(p.position), parent: p.parent, into: &out)
            }
        case .rule(let r):
            // A reference last in its alternative returns straight to the
            // caller's caller (a tail call), so `x*` loops keep a flat stack.
            let ret = grammar.elements[position + 1] == .end ? parent : push(Node(position: Int32(position + 1), parent: parent))
            for start in grammar.alternatives[r] { expand(start, parent: ret, into: &out) }
        case .scalars:
            let top = push(Node(position: Int32(position), parent: parent))
            if out.seen.insert(top).inserted { out.tops.append(top) }
        }
    }

    private func node(_ id: Int32) -> Node {
        Int(id) < nodes.count ? nodes[Int(id)] : scratch[Int(id) - nodes.count]
    }

    private mutating func push(_ n: Node) -> Int32 {
        if let id = interned[n] { return id }
        if trying {
            if let id = scratchInterned[n] { return id }
            let id = Int32(nodes.count + scratch.count)
            scratch.append(n)
            scratchInterned[n] = id
            return id
        }
        let id = Int32(nodes.count)
        nodes.append(n)
        interned[n] = id
        return id
    }
}

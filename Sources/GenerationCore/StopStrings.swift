/// Watches generated text for stop strings. Text that might be the start of
/// a stop string is held back until it is clearly not, so a streaming client
/// never sees a stop string or a piece of one.
///
/// Matching is incremental: the stop strings become one automaton
/// (Aho–Corasick) over UTF-8 bytes, whose state is the longest tail of the
/// text so far that begins some stop string. Each feed walks only the new
/// bytes, so the cost of a token does not grow with the text generated or
/// with the number of stop strings, and at most the longest stop string
/// minus one byte is ever held back.
public struct StopStringFilter: Sendable {
    public let stops: [String]
    private let automaton: StopAutomaton
    /// Bytes not shown yet: exactly the text of the automaton's state.
    private var held: [UInt8] = []
    private var state: Int32 = 0

    public init(_ stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        automaton = StopAutomaton(self.stops.map { Array($0.utf8) })
    }

    /// The outcome of feeding text: what may be shown now, and whether a stop
    /// string was reached (everything from it on is dropped).
    public struct Step: Sendable, Equatable {
        public var text: String
        public var stopped: Bool
    }

    public mutating func feed(_ text: String) -> Step {
        guard !stops.isEmpty else { return Step(text: text, stopped: false) }
        let start = held.count
        held += text.utf8
        // Of the stop strings that end in this text, the one starting first
        // wins, so what is shown never depends on the order of `stops`.
        var earliestStart: Int?
        for index in start..<held.count {
            state = automaton.next(state, held[index])
            let length = automaton.longestMatch[Int(state)]
            if length > 0 {
                let matchStart = index + 1 - Int(length)
                earliestStart = min(earliestStart ?? matchStart, matchStart)
            }
        }
        if let earliestStart {
            let shown = String(decoding: held[..<earliestStart], as: UTF8.self)
            held = []
            state = 0
            return Step(text: shown, stopped: true)
        }
        // The state's depth is the longest tail that starts a stop string.
        // It begins with a stop string's first byte, never inside a UTF-8
        // character, so the shown part is whole characters.
        let keep = Int(automaton.depth[Int(state)])
        let shown = String(decoding: held[..<(held.count - keep)], as: UTF8.self)
        held.removeFirst(held.count - keep)
        return Step(text: shown, stopped: false)
    }

    /// Whatever is still held once generation ends for another reason.
    public mutating func finish() -> String {
        defer {
            held = []
            state = 0
        }
        return String(decoding: held, as: UTF8.self)
    }
}

/// A trie of the stop strings with failure links: node 0 is the empty
/// string; a node's failure link is its longest proper suffix in the trie.
struct StopAutomaton: Sendable {
    /// Edges keyed by node << 8 | byte.
    private var edges: [UInt32: Int32] = [:]
    private var failure: [Int32] = [0]
    /// Bytes from the root to each node.
    private(set) var depth: [Int32] = [0]
    /// Length of the longest stop string that ends at this node (itself or
    /// a suffix of it), 0 when none does.
    private(set) var longestMatch: [Int32] = [0]

    init(_ stops: [[UInt8]]) {
        for stop in stops { insert(stop) }
        linkFailures()
    }

    private mutating func insert(_ stop: [UInt8]) {
        var node: Int32 = 0
        for byte in stop {
            if let child = edges[Self.key(node, byte)] {
                node = child
                continue
            }
            let child = Int32(depth.count)
            edges[Self.key(node, byte)] = child
            depth.append(depth[Int(node)] + 1)
            failure.append(0)
            longestMatch.append(0)
            node = child
        }
        longestMatch[Int(node)] = depth[Int(node)]
    }

    /// Breadth first, so every shorter node's links are final before use.
    private mutating func linkFailures() {
        var children: [[(UInt8, Int32)]] = Array(repeating: [], count: depth.count)
        for (key, child) in edges { children[Int(key >> 8)].append((UInt8(key & 0xFF), child)) }
        var queue: [Int32] = [0]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for (byte, child) in children[Int(node)] {
                queue.append(child)
                guard node != 0 else { continue }  // depth-1 nodes fail to the root
                let link = next(failure[Int(node)], byte)
                failure[Int(child)] = link
                longestMatch[Int(child)] = max(longestMatch[Int(child)], longestMatch[Int(link)])
            }
        }
    }

    /// The state after `byte`: the longest suffix of (state's text + byte)
    /// that is in the trie. Amortised O(1) per byte over a feed.
    func next(_ state: Int32, _ byte: UInt8) -> Int32 {
        var node = state
        while true {
            if let child = edges[Self.key(node, byte)] { return child }
            if node == 0 { return 0 }
            node = failure[Int(node)]
        }
    }

    private static func key(_ node: Int32, _ byte: UInt8) -> UInt32 {
        UInt32(node) << 8 | UInt32(byte)
    }
}

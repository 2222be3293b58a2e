/// Limits of a tier's prefix cache: `prefix_cache` (sequences) and
/// `prefix_cache_bytes` in the tier's config table.
public struct PrefixCacheLimits: Equatable, Sendable {
    /// Finished sequences kept at most; 0 turns prefix reuse off.
    public var sequences = 8
    /// KV bytes those sequences may hold together.
    public var bytes: UInt64 = 512 << 20

    public init(sequences: Int = 8, bytes: UInt64 = 512 << 20) {
        self.sequences = sequences
        self.bytes = bytes
    }

    public var isEnabled: Bool { sequences > 0 && bytes > 0 }
}

/// The KV of finished sequences a tier keeps, so a later request whose
/// prompt starts with the same tokens continues from it instead of
/// evaluating the whole prompt again (a chat's next turn re-sends the
/// conversation). Least recently used goes first when the count or byte
/// limit is passed, or when moed needs the memory.
///
/// The tier's lane adds finished sequences and claims them for new
/// requests (it is the only one calling the model); the loop reads the
/// figures and evicts for the memory budget, handing the sequences it
/// evicted back to the lane to remove. Hence the lock.
final class PrefixCache: @unchecked Sendable {
    struct Entry {
        let sequence: Int32
        /// The tokens whose KV the sequence holds, position by position.
        let tokens: [Int32]
        let bytes: UInt64
        var lastUse: UInt64
    }

    /// How a request continues a cached sequence: it takes the sequence
    /// itself (which leaves the cache), or a copy of its first positions
    /// in a fresh sequence (the cached one stays for its own conversation).
    enum Claim: Equatable {
        case take(sequence: Int32, reused: Int)
        case copy(from: Int32, reused: Int)

        var reused: Int {
            switch self {
            case .take(_, let n), .copy(_, let n): n
            }
        }
    }

    private let lock = NSLockLite()
    private var entries: [Entry] = []
    private var limits: PrefixCacheLimits

    init(limits: PrefixCacheLimits) {
        self.limits = limits
    }

    // MARK: figures (any thread)

    var count: Int { locked { entries.count } }
    var bytes: UInt64 { locked { entries.reduce(0) { $0 &+ $1.bytes } } }
    /// When the least recently used entry was last used; nil when empty.
    var oldestUse: UInt64? { locked { entries.map(\.lastUse).min() } }
    var isEnabled: Bool { locked { limits.isEnabled } }

    // MARK: the lane

    /// The cached sequence sharing the longest prefix with `prompt`, and
    /// how to continue from it; nil when none shares a token. At most
    /// `prompt.count - 1` tokens are reused: the last one is evaluated so
    /// the request has logits to sample from. A match covering at least
    /// half of the cached sequence is taken (a conversation going on:
    /// what follows the match is a reply the new prompt re-renders, or
    /// nothing); a shorter one (another conversation with the same system
    /// prompt) is copied when `canCopy`, so the cached one stays.
    func claim(prompt: [Int32], canCopy: Bool) -> Claim? {
        locked {
            guard limits.isEnabled, prompt.count > 1 else { return nil }
            var best: (index: Int, reused: Int)?
            for (index, entry) in entries.enumerated() {
                let reused = min(Self.commonPrefixLength(entry.tokens, prompt), prompt.count - 1)
                guard reused > 0 else { continue }
                if let b = best, reused < b.reused || (reused == b.reused && entry.lastUse < entries[b.index].lastUse) { continue }
                best = (index, reused)
            }
            guard let (index, reused) = best else { return nil }
            if canCopy && reused * 2 < entries[index].tokens.count {
                entries[index].lastUse = Self.tick()
                return .copy(from: entries[index].sequence, reused: reused)
            }
            return .take(sequence: entries.remove(at: index).sequence, reused: reused)
        }
    }

    /// Keeps a finished sequence holding `tokens`; returns the sequences
    /// the caller must remove: those pushed out by the limits, or this one
    /// when it cannot be kept (cache off, no tokens, larger than the
    /// byte limit on its own).
    func insert(sequence: Int32, tokens: [Int32], bytes: UInt64) -> [Int32] {
        locked {
            guard limits.isEnabled, !tokens.isEmpty, bytes <= limits.bytes else { return [sequence] }
            entries.append(Entry(sequence: sequence, tokens: tokens, bytes: bytes, lastUse: Self.tick()))
            return trimToLimits()
        }
    }

    // MARK: the loop

    /// Drops least recently used entries until `target` bytes are freed
    /// (or none is left); returns their sequences and the bytes freed.
    func evict(toFree target: UInt64) -> (sequences: [Int32], bytes: UInt64) {
        locked {
            var freed: UInt64 = 0
            var sequences: [Int32] = []
            while freed < target, let entry = removeOldest() {
                freed &+= entry.bytes
                sequences.append(entry.sequence)
            }
            return (sequences, freed)
        }
    }

    /// Drops the least recently used entry; nil when empty.
    func evictOldest() -> Entry? { locked { removeOldest() } }

    /// New limits (a config reload); returns the sequences they push out.
    func setLimits(_ new: PrefixCacheLimits) -> [Int32] {
        locked {
            limits = new
            return trimToLimits()
        }
    }

    // MARK: helpers (under the lock)

    private func trimToLimits() -> [Int32] {
        var removed: [Int32] = []
        while entries.count > limits.sequences || entries.reduce(0, { $0 &+ $1.bytes }) > limits.bytes,
              let entry = removeOldest() {
            removed.append(entry.sequence)
        }
        return removed
    }

    private func removeOldest() -> Entry? {
        guard let index = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) else { return nil }
        return entries.remove(at: index)
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    static func commonPrefixLength(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        let limit = min(a.count, b.count)
        while n < limit && a[n] == b[n] { n += 1 }
        return n
    }

    /// One clock for every tier's cache, so "least recently used" means
    /// the same across tiers when moed frees memory.
    private static let clockLock = NSLockLite()
    nonisolated(unsafe) private static var clock: UInt64 = 0

    static func tick() -> UInt64 {
        clockLock.lock()
        defer { clockLock.unlock() }
        clock += 1
        return clock
    }
}

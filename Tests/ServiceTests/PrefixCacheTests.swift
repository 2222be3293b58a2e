import Testing
@testable import Service

@Suite("The prefix cache: matching, LRU bounds, eviction")
struct PrefixCacheTests {
    @Test("a prompt continues the entry with the longest common prefix, keeping one token to evaluate")
    func longestMatch() throws {
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 4, bytes: 1000))
        #expect(cache.insert(sequence: 1, tokens: [1, 2, 3], bytes: 10).isEmpty)
        #expect(cache.insert(sequence: 2, tokens: [1, 2, 3, 4, 5], bytes: 10).isEmpty)
        #expect(cache.claim(prompt: [9, 9], canCopy: true) == nil)
        #expect(cache.claim(prompt: [1, 2, 3, 4, 5, 6], canCopy: true) == .take(sequence: 2, reused: 5))
        #expect(cache.count == 1)
        // The whole prompt is cached: its last token is still evaluated, for logits.
        #expect(cache.claim(prompt: [1, 2, 3], canCopy: true) == .take(sequence: 1, reused: 2))
        #expect(cache.count == 0)
        #expect(cache.claim(prompt: [1], canCopy: true) == nil)
    }

    @Test("a short match is copied and the entry stays; without copy it is taken")
    func copyOrTake() throws {
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 4, bytes: 1000))
        _ = cache.insert(sequence: 7, tokens: Array(1...10), bytes: 10)
        // Another conversation sharing a 3-token "system prompt".
        #expect(cache.claim(prompt: [1, 2, 3, 99], canCopy: true) == .copy(from: 7, reused: 3))
        #expect(cache.count == 1)
        #expect(cache.claim(prompt: [1, 2, 3, 99], canCopy: false) == .take(sequence: 7, reused: 3))
        #expect(cache.count == 0)
    }

    @Test("the count limit pushes out the least recently used; a copy counts as a use")
    func countBound() throws {
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 2, bytes: 1000))
        _ = cache.insert(sequence: 1, tokens: Array(1...10), bytes: 10)
        _ = cache.insert(sequence: 2, tokens: Array(21...30), bytes: 10)
        _ = cache.claim(prompt: [1, 2, 50], canCopy: true)  // uses 1: now 2 is the oldest
        #expect(cache.insert(sequence: 3, tokens: Array(41...50), bytes: 10) == [2])
        #expect(cache.count == 2)
        #expect(cache.insert(sequence: 4, tokens: Array(61...70), bytes: 10) == [1])
    }

    @Test("the byte limit pushes out old entries; one larger than the limit is not kept")
    func byteBound() throws {
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 8, bytes: 100))
        _ = cache.insert(sequence: 1, tokens: [1], bytes: 40)
        _ = cache.insert(sequence: 2, tokens: [2], bytes: 40)
        #expect(cache.insert(sequence: 3, tokens: [3], bytes: 40) == [1])
        #expect(cache.bytes == 80)
        #expect(cache.insert(sequence: 4, tokens: [4], bytes: 101) == [4])
        #expect(cache.count == 2)
    }

    @Test("evicting for memory frees the oldest entries until enough bytes are freed")
    func evictForMemory() throws {
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 8, bytes: 1000))
        for s in Int32(1)...4 { _ = cache.insert(sequence: s, tokens: [s], bytes: 30) }
        let (sequences, freed) = cache.evict(toFree: 50)
        #expect(sequences == [1, 2] && freed == 60)
        #expect(cache.bytes == 60)
    }

    @Test("turned off, or with new smaller limits, nothing is kept")
    func limits() throws {
        let off = PrefixCache(limits: PrefixCacheLimits(sequences: 0, bytes: 1000))
        #expect(off.insert(sequence: 1, tokens: [1, 2], bytes: 1) == [1])
        let cache = PrefixCache(limits: PrefixCacheLimits(sequences: 4, bytes: 1000))
        for s in Int32(1)...3 { _ = cache.insert(sequence: s, tokens: [s], bytes: 1) }
        #expect(cache.setLimits(PrefixCacheLimits(sequences: 1, bytes: 1000)) == [1, 2])
        #expect(cache.insert(sequence: 9, tokens: [], bytes: 1) == [9])
    }
}

@Suite("Prefix cache settings")
struct PrefixCacheSettingsTests {
    static let tier = "[tiers.a]\nplugin = \"dense\"\nmodel = \"m\"\n"

    @Test("prefix_cache and prefix_cache_bytes are read per tier, with defaults")
    func keys() throws {
        let defaults = try #require(try Configuration.parse(Self.tier, path: "x").tier(named: "a"))
        #expect(defaults.prefixCache == PrefixCacheLimits(sequences: 8, bytes: 512 << 20))
        let set = try Configuration.parse(Self.tier + "prefix_cache = 2\nprefix_cache_bytes = \"64MiB\"\n", path: "x")
        #expect(set.tier(named: "a")?.prefixCache == PrefixCacheLimits(sequences: 2, bytes: 64 << 20))
        let off = try Configuration.parse(Self.tier + "prefix_cache = 0\n", path: "x")
        #expect(off.tier(named: "a")?.prefixCache.isEnabled == false)
    }

    @Test("bad values are refused naming the line and key", arguments: [
        "prefix_cache = -1", "prefix_cache = 5000", "prefix_cache = \"many\"", "prefix_cache_bytes = \"lots\"", "prefix_cache_bytes = 0",
    ])
    func refused(line: String) throws {
        let error = #expect(throws: ConfigError.self) { try Configuration.parse(Self.tier + line + "\n", path: "x") }
        #expect(error?.line == 4)
        #expect(error?.key == String(line.prefix { $0 != " " }))
    }
}

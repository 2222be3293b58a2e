import MoeAPI
import PluginHost
import Testing
@testable import Service

/// A model that edits sequences as a plugin with the prefix-reuse entries
/// does, and checks every sequence is fed its positions in order (so a
/// wrong continuation point fails the evaluation). It predicts `text`
/// cyclically by position, so reuse cannot change what it says.
final class EditingFakeModel: ModelBackend {
    let info = ModelInfo(architecture: "fake", name: "", vocabularySize: 258, contextLength: 4096, layers: 1, experts: 0,
                         expertsUsed: 0, bosToken: 256, eosToken: 257, eotToken: nil)
    let text = Array("the quick brown fox jumps over the lazy dog. ".utf8)
    private(set) var lengths: [Int32: Int] = [:]
    private var next: Int32 = 0
    /// Items evaluated, over all calls.
    private(set) var evaluatedItems = 0
    static let bytesPerPosition: UInt64 = 10

    var canEditSequences: Bool { true }
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        (addSpecial ? [256] : []) + text.utf8.map { Int32($0) }
    }
    func detokenize(_ tokens: [Int32]) throws -> [UInt8] { tokens.filter { $0 < 256 }.map { UInt8($0) } }
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        turns.map { "\($0.role): \($0.content)\n" }.joined() + (addGenerationPrompt ? "assistant: " : "")
    }
    func createSequence() throws -> Int32 {
        defer { next += 1 }
        lengths[next] = 0
        return next
    }
    func removeSequence(_ sequence: Int32) throws {
        guard lengths.removeValue(forKey: sequence) != nil else { throw StepError("no sequence \(sequence)") }
    }
    func clearSequence(_ sequence: Int32) throws {
        guard lengths[sequence] != nil else { throw StepError("no sequence \(sequence)") }
        lengths[sequence] = 0
    }
    func truncateSequence(_ sequence: Int32, to count: Int) throws {
        guard let length = lengths[sequence], count <= length else { throw StepError("cannot truncate \(sequence)") }
        lengths[sequence] = count
    }
    func copySequence(_ source: Int32, to destination: Int32, count: Int) throws {
        guard let length = lengths[source], count <= length, lengths[destination] != nil else { throw StepError("cannot copy") }
        lengths[destination] = count
    }
    func sequenceBytes(_ sequence: Int32) throws -> UInt64 {
        guard let length = lengths[sequence] else { throw StepError("no sequence \(sequence)") }
        return UInt64(length) * Self.bytesPerPosition
    }
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] {
        for item in items {
            guard lengths[item.sequence] == Int(item.position) else {
                throw StepError("sequence \(item.sequence) fed position \(item.position), holds \(lengths[item.sequence] ?? -1)")
            }
            lengths[item.sequence] = Int(item.position) + 1
        }
        evaluatedItems += items.count
        return items.filter(\.wantsLogits).map { item in
            var row = [Float](repeating: 0, count: 258)
            row[Int(text[(Int(item.position) + 1) % text.count])] = 10
            return row[...]
        }
    }
    func expertStatistics() throws -> [UInt64] { [] }
    func routingEntropy() throws -> [Double] { [] }
    func close() {}
}

@Suite("Prefix reuse in the scheduler")
struct PrefixReuseTests {
    static let config = """
        [daemon]
        memory_budget = 100000
        max_batch = 4
        [tiers.haiku]
        plugin = "fake"
        model = "h"
        temperature = 0
        prefix_cache = 2
        [tiers.opus]
        plugin = "fake"
        model = "o"
        temperature = 0
        """

    /// A harness whose tiers open editing fakes, kept by tier name.
    final class Models {
        var byTier: [String: EditingFakeModel] = [:]
    }

    static func harness(_ toml: String = config) throws -> (Harness, Models) {
        let h = try Harness(toml)
        let models = Models()
        h.backends.makeModel = { tier in
            let model = EditingFakeModel()
            models.byTier[tier.name] = model
            return model
        }
        return (h, models)
    }

    static func chat(_ h: Harness, _ messages: [ChatMessage], id: UInt64, sink: CollectingSink, cache: Bool = true) {
        var request = GenerateRequest()
        request.messages = messages
        request.maxTokens = 6
        request.cachePrompt = cache
        h.scheduler.generate(request, id: id, sink: sink)
    }

    static func summary(_ sink: CollectingSink, _ id: UInt64) throws -> GenerateSummary {
        guard case .summary(let s) = try #require(sink.final(of: id)).result else { throw StepError("no summary for \(id)") }
        return s
    }

    /// Plays a five-turn conversation; returns each turn's reply and summary.
    static func conversation(_ h: Harness, cache: Bool) throws -> [(String, GenerateSummary)] {
        let sink = CollectingSink()
        var messages: [ChatMessage] = [ChatMessage(role: "system", content: "be brief")]
        var turns: [(String, GenerateSummary)] = []
        for turn in 1...5 {
            messages.append(ChatMessage(role: "user", content: "question \(turn)"))
            chat(h, messages, id: UInt64(turn), sink: sink, cache: cache)
            h.executor.settle()
            let reply = sink.text(of: UInt64(turn))
            turns.append((reply, try summary(sink, UInt64(turn))))
            messages.append(ChatMessage(role: "assistant", content: reply))
        }
        return turns
    }

    @Test("a five-turn conversation's later turns continue the cached prefix and say the same as without")
    func conversationReuses() throws {
        let (warm, warmModels) = try Self.harness()
        let (cold, coldModels) = try Self.harness()
        let reused = try Self.conversation(warm, cache: true)
        let fresh = try Self.conversation(cold, cache: false)
        #expect(reused.map(\.0) == fresh.map(\.0))
        #expect(reused[0].1.cachedPromptTokens == 0)
        for turn in 1..<5 {
            #expect(reused[turn].1.cachedPromptTokens > 0, "turn \(turn + 1)")
            // Everything up to the last reply is cached; the new user line is not.
            #expect(Int(reused[turn].1.cachedPromptTokens) >= Int(reused[turn - 1].1.promptTokens))
        }
        #expect(fresh.allSatisfy { $0.1.cachedPromptTokens == 0 })
        let evaluatedWarm = try #require(warmModels.byTier["haiku"]).evaluatedItems
        let evaluatedCold = try #require(coldModels.byTier["haiku"]).evaluatedItems
        #expect(evaluatedWarm < evaluatedCold)
        let stats = try #require(warm.scheduler.stats().first { $0.name == "haiku" })
        #expect(stats.prefixCacheHits == 4)
        #expect(stats.cachedPromptTokens == reused.reduce(0) { $0 + UInt64($1.1.cachedPromptTokens) })
        let status = try #require(warm.scheduler.tierStatuses().first { $0.name == "haiku" })
        #expect(status.cachedSequences == 1)
        #expect(status.cachedBytes > 0)
        // cache_prompt = false left nothing behind.
        #expect(cold.scheduler.tierStatuses().first { $0.name == "haiku" }?.cachedSequences == 0)
    }

    @Test("two concurrent requests with one cached prefix: one continues it, the other prefills, both say the same")
    func concurrentPair() throws {
        let (h, _) = try Self.harness()
        let sink = CollectingSink()
        let first = [ChatMessage(role: "user", content: "tell me about rivers")]
        Self.chat(h, first, id: 1, sink: sink)
        h.executor.settle()
        let next = first + [ChatMessage(role: "assistant", content: sink.text(of: 1)), ChatMessage(role: "user", content: "more")]
        Self.chat(h, next, id: 2, sink: sink)
        Self.chat(h, next, id: 3, sink: sink)
        h.executor.settle()
        let a = try Self.summary(sink, 2), b = try Self.summary(sink, 3)
        #expect(sink.text(of: 2) == sink.text(of: 3))
        #expect([a.cachedPromptTokens, b.cachedPromptTokens].filter { $0 > 0 }.count == 1)
        #expect(a.finishReason == "length" && b.finishReason == "length")
        // Both finished sequences are kept (prefix_cache = 2).
        #expect(h.scheduler.tierStatuses().first { $0.name == "haiku" }?.cachedSequences == 2)
    }

    @Test("two conversations running at once each continue their own cached sequence, turn after turn")
    func twoConversations() throws {
        let (h, _) = try Self.harness()
        let sink = CollectingSink()
        var histories = [[ChatMessage(role: "user", content: "about rivers")], [ChatMessage(role: "user", content: "on mountains")]]
        var id: UInt64 = 0
        for turn in 1...3 {
            var ids: [UInt64] = []
            for history in histories {  // both turns in flight together
                id += 1
                ids.append(id)
                Self.chat(h, history, id: id, sink: sink)
            }
            h.executor.settle()
            for (index, requestID) in ids.enumerated() {
                let summary = try Self.summary(sink, requestID)
                if turn > 1 { #expect(summary.cachedPromptTokens > 0, "conversation \(index), turn \(turn)") }
                histories[index] += [ChatMessage(role: "assistant", content: sink.text(of: requestID)),
                                     ChatMessage(role: "user", content: "and then?")]
            }
        }
        #expect(h.scheduler.tierStatuses().first { $0.name == "haiku" }?.cachedSequences == 2)
    }

    @Test("a prompt sharing only a short prefix copies it, leaving the cached conversation whole")
    func sharedSystemPrompt() throws {
        let (h, _) = try Self.harness()
        let sink = CollectingSink()
        let system = ChatMessage(role: "system", content: "you are a helpful assistant")
        Self.chat(h, [system, ChatMessage(role: "user", content: String(repeating: "a long first question ", count: 4))], id: 1, sink: sink)
        h.executor.settle()
        Self.chat(h, [system, ChatMessage(role: "user", content: "hi")], id: 2, sink: sink)
        h.executor.settle()
        #expect(try Self.summary(sink, 2).cachedPromptTokens > 0)
        #expect(h.scheduler.tierStatuses().first { $0.name == "haiku" }?.cachedSequences == 2)
    }

    @Test("cached prefixes give way first when a load needs memory, before idle tiers")
    func prefixesBeforeTiers() throws {
        let (h, _) = try Self.harness(Self.config.replacingOccurrences(of: "memory_budget = 100000", with: "memory_budget = 1000"))
        h.backends.sizes = ["h": 400, "o": 500]
        let sink = CollectingSink()
        Self.chat(h, [ChatMessage(role: "user", content: String(repeating: "x", count: 20))], id: 1, sink: sink)
        h.executor.settle()
        let held = try #require(h.scheduler.tierStatuses().first { $0.name == "haiku" }?.cachedBytes)
        #expect(held > 100)  // 400 + held + 500 passes the budget of 1000
        #expect(h.scheduler.prefixCacheBytes == held)
        h.scheduler.load(tier: "opus", id: 2, sink: sink)
        h.executor.settle()
        #expect(h.state("opus") == .ready)
        #expect(h.state("haiku") == .ready)
        #expect(h.scheduler.prefixCacheBytes == 0)
        #expect(h.scheduler.memoryUsed <= 1000)
    }

    @Test("when dropping cached prefixes is not enough, the idle tier that held them is still evicted")
    func prefixesThenTier() throws {
        let (h, _) = try Self.harness(Self.config.replacingOccurrences(of: "memory_budget = 100000", with: "memory_budget = 1000"))
        h.backends.sizes = ["h": 600, "o": 500]
        let sink = CollectingSink()
        Self.chat(h, [ChatMessage(role: "user", content: "hello")], id: 1, sink: sink)
        h.executor.settle()
        #expect(h.scheduler.prefixCacheBytes > 0)
        h.scheduler.load(tier: "opus", id: 2, sink: sink)
        h.executor.settle()
        #expect(h.state("opus") == .ready)
        #expect(h.state("haiku") == .unloaded)
        #expect(h.scheduler.memoryUsed == 500)
    }

    @Test("cached prefixes that push the tiers past the budget are dropped, oldest first")
    func budgetTrims() throws {
        let (h, _) = try Self.harness(Self.config.replacingOccurrences(of: "memory_budget = 100000", with: "memory_budget = 1000"))
        h.backends.sizes = ["h": 300]  // each cached conversation holds about 500 bytes
        let sink = CollectingSink()
        for (id, text) in [(UInt64(1), "first conversation " + String(repeating: "y", count: 10)),
                           (2, "second talk " + String(repeating: "z", count: 10))] {
            Self.chat(h, [ChatMessage(role: "user", content: text)], id: id, sink: sink)
            h.executor.settle()
        }
        #expect(h.scheduler.memoryUsed <= 1000)
        let status = try #require(h.scheduler.tierStatuses().first { $0.name == "haiku" })
        #expect(status.cachedSequences == 1)  // the first conversation's went
        #expect(h.scheduler.dropCachedPrefixes(toFree: 1) > 0)
        #expect(h.scheduler.prefixCacheBytes == 0)
    }
}

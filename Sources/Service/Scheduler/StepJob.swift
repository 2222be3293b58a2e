import GenerationCore
import MoeAPI
import PluginHost

/// What one evaluation step produced for one generation.
struct StepOutcome {
    enum Event {
        /// A sampled token, its bytes, and its log-probabilities when asked.
        case token(Int32, bytes: [UInt8], logprob: GenerateChunk.TokenLogprob?)
        case contextFull
        case failed(String)
    }
    let generation: Generation
    let event: Event
    /// The generation's context shifts so far, read on the lane (the
    /// loop must not read the model-side count while a run goes on).
    var contextShifts = 0
}

/// A MoE model's router statistics after a step, read on the worker lane.
struct ExpertReport {
    var counts: [UInt64]
    var entropy: [Double]

    init?(_ model: ModelBackend) {
        guard let counts = try? model.expertStatistics(), let entropy = try? model.routingEntropy() else { return nil }
        self.counts = counts
        self.entropy = entropy
    }
}

/// What one step sent back to the loop.
struct StepResult {
    var outcomes: [StepOutcome]
    var experts: ExpertReport?
    /// Lane time the step took, for the tier's counters.
    var seconds: Double
    /// Set when the model's file changed on disk (or faulted) during the
    /// run: the step's outcomes are dropped and the tier fails.
    var fileProblem: String? = nil
}

/// Set by the loop when a run of steps should hand the tier back at the
/// next step boundary: new work is waiting, a stream was cancelled or hit
/// a stop string, the tier is draining. Read on the lane.
final class StepYield: @unchecked Sendable {
    private let lock = NSLockLite()
    private var requested = false

    func request() {
        lock.lock()
        requested = true
        lock.unlock()
    }

    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }
}

/// The worker side of decoding: prepare newcomers, evaluate every active
/// sequence of the tier in one batch, sample, detokenize — and, while the
/// set of streams stays the same, go straight on to the next step instead
/// of waiting for the loop to start it. Each step's outcomes go to the
/// loop as they are made, so streaming is unchanged; the lane stops at
/// the first step after which a stream ended by the model's own rules
/// (stop token, max tokens, context, failure), after `maxSteps`, or when
/// the loop asks it to yield. Runs on the tier's lane; touches only
/// model-side fields of the generations.
struct StepJob {
    let model: ModelBackend
    let generations: [Generation]
    let retiredSequences: [RetiredSequence]
    /// The tier's prefix cache; nil when the model cannot edit sequences.
    let prefixCache: PrefixCache?
    let contextLength: Int
    /// Prompt tokens per step for a newcomer while others generate (`SchedulerEnvironment.prefillChunk`).
    let prefillChunk: Int
    /// The tier's vocabulary for grammars (structured output).
    var vocabularies = GrammarVocabularyCache()
    let now: () -> Double

    func run(maxSteps: Int, yield: StepYield, deliver: (StepResult) -> Void) {
        release(retiredSequences, model: model, cache: prefixCache)
        let endOfGeneration = model.info.endOfGeneration
        // The file is checked before the first step and after each one,
        // before its tokens leave the lane: a step computed while the file
        // changed under it (or on zero pages a fault left) is dropped.
        // An fstat and an atomic load per step, on the lane, not the loop.
        let checkpoint = model.fileCheckpoint()
        if let problem = model.fileProblem(since: checkpoint) {
            return deliver(StepResult(outcomes: [], experts: nil, seconds: 0, fileProblem: problem))
        }
        for _ in 0..<max(1, maxSteps) {
            let started = now()
            let outcomes = step()
            if let problem = model.fileProblem(since: checkpoint) {
                return deliver(StepResult(outcomes: [], experts: nil, seconds: now() - started, fileProblem: problem))
            }
            deliver(StepResult(outcomes: outcomes, experts: model.info.experts > 0 ? ExpertReport(model) : nil,
                               seconds: now() - started))
            let ended = outcomes.contains { outcome in
                guard case .token(let token, _, _) = outcome.event else { return true }
                let g = outcome.generation
                return GenerationRules.endsAt(token, tokenCount: g.sampledTokens, maxTokens: g.maxTokens,
                                              endOfGeneration: endOfGeneration)
            }
            if ended || yield.isRequested { return }
        }
    }

    private func step() -> [StepOutcome] {
        var outcomes: [StepOutcome] = []
        var ready: [Generation] = []
        for generation in generations {
            do {
                try prepare(generation)
                if try makeRoom(for: generation) {
                    ready.append(generation)
                } else {
                    outcomes.append(StepOutcome(generation: generation, event: .contextFull, contextShifts: generation.contextShifts))
                }
            } catch {
                outcomes.append(StepOutcome(generation: generation, event: .failed("\(error)")))
            }
        }
        return outcomes + evaluate(ready)
    }

    /// Whether the generation's next tokens fit its context, after a
    /// context shift if it asked for one (GenerationCore's `ContextWindow`
    /// decides, as in `moectl run`): the sequence is cleared and the kept
    /// tokens are evaluated again from position 0.
    private func makeRoom(for g: Generation) throws -> Bool {
        guard g.pendingToken != nil else { return g.promptTokens.count <= contextLength }
        let window = ContextWindow(length: contextLength, shifts: g.options.contextShift)
        switch window.decide(context: g.context, adding: 1, keep: g.keepTokens) {
        case .fits: return true
        case .full: return false
        case .shift(let kept):
            try model.clearSequence(g.sequence)
            let items = kept.enumerated().map {
                BatchItem(token: $1, position: Int32($0), sequence: g.sequence, wantsLogits: false)
            }
            _ = try model.evaluate(items)
            g.context = kept
            g.contextShifts += 1
            return true
        }
    }

    /// Tokenizes the prompt (or renders the chat) and opens a sequence.
    private func prepare(_ g: Generation) throws {
        guard !g.isPrepared else { return }
        var systemPart: [Int32]?
        if g.request.messages.isEmpty {
            g.promptTokens = try model.tokenize(g.request.prompt, addSpecial: true, parseSpecial: false)
        } else {
            let turns = g.request.messages.map { ChatTurn(role: $0.role, content: $0.content) }
            let text = try model.renderChat(turns, addGenerationPrompt: true)
            g.promptTokens = try model.tokenize(text, addSpecial: true, parseSpecial: true)
            if g.options.contextShift, let first = turns.first, first.role == "system" {
                let system = try model.renderChat([first], addGenerationPrompt: false)
                systemPart = try model.tokenize(system, addSpecial: true, parseSpecial: true)
            }
        }
        guard !g.promptTokens.isEmpty else { throw StepError("the prompt is empty") }
        g.keepTokens = ContextWindow.keepCount(prompt: g.promptTokens, systemPart: systemPart, bos: model.info.bosToken)
        try openSequence(for: g)
        g.isPrepared = true  // from here on the sequence must be removed
        g.chooser.accept(g.promptTokens)
        if let grammar = g.grammar {
            g.chooser.constrain(grammar, vocabulary: try vocabularies.vocabulary(for: model))
        }
    }

    /// A fresh sequence, or one continuing the longest cached prefix of
    /// the prompt (docs/service.md, "Prefix reuse"). If cutting or copying
    /// fails the request prefills in a fresh sequence, as without a cache.
    private func openSequence(for g: Generation) throws {
        if g.request.cachePrompt, let cache = prefixCache,
           let claim = cache.claim(prompt: g.promptTokens, canCopy: model.canEditSequences) {
            var opened: Int32?  // removed again if the claim fails
            do {
                switch claim {
                case .take(let taken, let reused):
                    opened = taken
                    try model.truncateSequence(taken, to: reused)
                case .copy(let source, let reused):
                    let fresh = try model.createSequence()
                    opened = fresh
                    try model.copySequence(source, to: fresh, count: reused)
                }
                g.sequence = opened ?? g.sequence
                g.cachedPromptTokens = claim.reused
                g.context = Array(g.promptTokens[..<claim.reused])
                return
            } catch {
                if let opened { try? model.removeSequence(opened) }
                moedLog.warning("prefix reuse failed, prefilling instead: \(error)")
            }
        }
        g.sequence = try model.createSequence()
    }

    /// One batch for every ready generation: each decoding one's sampled
    /// token, each newcomer's prompt — in chunks of `prefillChunk` while
    /// some other stream is decoding. A newcomer gets its first token in the
    /// step that evaluates the last of its prompt; before that it yields no
    /// outcome.
    private func evaluate(_ generations: [Generation]) -> [StepOutcome] {
        guard !generations.isEmpty else { return [] }
        let limit = generations.contains { !$0.isPrefilling } ? prefillChunk : .max
        let feeds = generations.map { $0.tokensToEvaluate(limit: limit) }
        // whether the generation samples this step: decoding, or its prompt's last chunk
        let samples = zip(generations, feeds).map { g, tokens in
            !g.isPrefilling || g.context.count + tokens.count >= g.promptTokens.count
        }
        var items: [BatchItem] = []
        for (i, g) in generations.enumerated() {
            for (offset, token) in feeds[i].enumerated() {
                items.append(BatchItem(token: token, position: Int32(g.context.count + offset), sequence: g.sequence,
                                       wantsLogits: samples[i] && offset == feeds[i].count - 1))
            }
        }
        let rows: [ArraySlice<Float>]
        do {
            rows = try model.evaluate(items)
        } catch {
            generations.forEach { $0.kvIsTrusted = false }
            return generations.map { StepOutcome(generation: $0, event: .failed("\(error)")) }
        }
        let sampling = generations.indices.filter { samples[$0] }.map { generations[$0] }
        // ModelBackend's contract, checked: a generation left without its row
        // would wait for a token forever
        guard rows.count == sampling.count else {
            generations.forEach { $0.kvIsTrusted = false }
            let problem = "the model returned \(rows.count) rows of logits for \(sampling.count)"
            return generations.map { StepOutcome(generation: $0, event: .failed(problem)) }
        }
        generations.enumerated().forEach { i, g in g.context += feeds[i] }
        return zip(sampling, rows).map { g, row in
            let choice = row.withUnsafeBufferPointer { g.chooser.choose(from: $0) }
            g.pendingToken = choice.token
            g.sampledTokens += 1
            let bytes = (try? model.detokenize([choice.token])) ?? []
            return StepOutcome(generation: g, event: .token(choice.token, bytes: bytes, logprob: choice.logprob.map(wire)),
                               contextShifts: g.contextShifts)
        }
    }

    /// Log-probabilities as the protocol carries them, with each token's bytes.
    private func wire(_ l: TokenLogprob) -> GenerateChunk.TokenLogprob {
        func piece(_ token: Int32) -> [UInt8] { (try? model.detokenize([token])) ?? [] }
        return GenerateChunk.TokenLogprob(
            token: l.token, logprob: l.logprob, piece: piece(l.token),
            top: l.top.map { GenerateChunk.TokenLogprob(token: $0.token, logprob: $0.logprob, piece: piece($0.token)) })
    }
}

struct StepError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import PluginHost

/// What one evaluation step produced for one generation.
struct StepOutcome {
    enum Event {
        case token(Int32, bytes: [UInt8])
        case contextFull
        case failed(String)
    }
    let generation: Generation
    let event: Event
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
    let now: () -> Double

    func run(maxSteps: Int, yield: StepYield, deliver: (StepResult) -> Void) {
        release(retiredSequences, model: model, cache: prefixCache)
        let stopTokens = model.info.stopTokens
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
                guard case .token(let token, _) = outcome.event else { return true }
                return stopTokens.contains(token) || outcome.generation.sampledTokens >= outcome.generation.maxTokens
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
                if Int(generation.position) + generation.tokensToEvaluate.count > contextLength {
                    outcomes.append(StepOutcome(generation: generation, event: .contextFull))
                } else {
                    ready.append(generation)
                }
            } catch {
                outcomes.append(StepOutcome(generation: generation, event: .failed("\(error)")))
            }
        }
        return outcomes + evaluate(ready)
    }

    /// Tokenizes the prompt (or renders the chat) and opens a sequence.
    private func prepare(_ g: Generation) throws {
        guard !g.isPrepared else { return }
        if g.request.messages.isEmpty {
            g.promptTokens = try model.tokenize(g.request.prompt, addSpecial: true, parseSpecial: false)
        } else {
            let turns = g.request.messages.map { ChatTurn(role: $0.role, content: $0.content) }
            let text = try model.renderChat(turns, addGenerationPrompt: true)
            g.promptTokens = try model.tokenize(text, addSpecial: true, parseSpecial: true)
        }
        guard !g.promptTokens.isEmpty else { throw StepError("the prompt is empty") }
        try openSequence(for: g)
        g.isPrepared = true  // from here on the sequence must be removed
        g.promptTokens.forEach { g.sampler.accept($0) }
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
                g.position = Int32(claim.reused)
                g.evaluatedTokens = Array(g.promptTokens[..<claim.reused])
                return
            } catch {
                if let opened { try? model.removeSequence(opened) }
                log("prefix reuse failed, prefilling instead: \(error)")
            }
        }
        g.sequence = try model.createSequence()
    }

    private func evaluate(_ generations: [Generation]) -> [StepOutcome] {
        guard !generations.isEmpty else { return [] }
        var items: [BatchItem] = []
        for g in generations {
            let tokens = g.tokensToEvaluate
            for (offset, token) in tokens.enumerated() {
                items.append(BatchItem(token: token, position: g.position + Int32(offset), sequence: g.sequence,
                                       wantsLogits: offset == tokens.count - 1))
            }
        }
        let rows: [[Float]]
        do {
            rows = try model.evaluate(items)
        } catch {
            generations.forEach { $0.kvIsTrusted = false }
            return generations.map { StepOutcome(generation: $0, event: .failed("\(error)")) }
        }
        return zip(generations, rows).map { g, row in
            let evaluated = g.tokensToEvaluate
            g.evaluatedTokens += evaluated
            g.position += Int32(evaluated.count)
            let token = row.withUnsafeBufferPointer { g.sampler.sample($0) }
            g.sampler.accept(token)
            g.pendingToken = token
            g.sampledTokens += 1
            let bytes = (try? model.detokenize([token])) ?? []
            return StepOutcome(generation: g, event: .token(token, bytes: bytes))
        }
    }
}

struct StepError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

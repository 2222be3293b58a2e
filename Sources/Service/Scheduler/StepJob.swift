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
    let retiredSequences: [Int32]
    let contextLength: Int
    let now: () -> Double

    func run(maxSteps: Int, yield: StepYield, deliver: (StepResult) -> Void) {
        for sequence in retiredSequences { try? model.removeSequence(sequence) }
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
                if Int(generation.position) + (generation.pendingToken == nil ? generation.promptTokens.count : 1) > contextLength {
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
        g.sequence = try model.createSequence()
        g.isPrepared = true  // from here on the sequence must be removed
        g.promptTokens.forEach { g.sampler.accept($0) }
    }

    private func evaluate(_ generations: [Generation]) -> [StepOutcome] {
        guard !generations.isEmpty else { return [] }
        var items: [BatchItem] = []
        for g in generations {
            let tokens = g.pendingToken.map { [$0] } ?? g.promptTokens
            for (offset, token) in tokens.enumerated() {
                items.append(BatchItem(token: token, position: g.position + Int32(offset), sequence: g.sequence,
                                       wantsLogits: offset == tokens.count - 1))
            }
        }
        let rows: [[Float]]
        do {
            rows = try model.evaluate(items)
        } catch {
            return generations.map { StepOutcome(generation: $0, event: .failed("\(error)")) }
        }
        return zip(generations, rows).map { g, row in
            g.position += Int32(g.pendingToken == nil ? g.promptTokens.count : 1)
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

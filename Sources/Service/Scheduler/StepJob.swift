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

/// The worker side of a step: prepare newcomers, evaluate every active
/// sequence of the tier in one batch, sample, detokenize. Runs on the
/// tier's lane; touches only model-side fields of the generations.
struct StepJob {
    let model: ModelBackend
    let generations: [Generation]
    let retiredSequences: [Int32]
    let contextLength: Int

    func run() -> (outcomes: [StepOutcome], experts: ExpertReport?) {
        for sequence in retiredSequences { try? model.removeSequence(sequence) }
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
        outcomes += evaluate(ready)
        return (outcomes, model.info.experts > 0 ? ExpertReport(model) : nil)
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
            let bytes = (try? model.detokenize([token])) ?? []
            return StepOutcome(generation: g, event: .token(token, bytes: bytes))
        }
    }
}

struct StepError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

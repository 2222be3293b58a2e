import CMoePlugin
import GenerationCore
import MoeAPI
import PluginHost

/// The text path: tiers whose plugin generates text, not logits (a remote
/// tier, `generate_text`). Each generation runs as one blocking call on a
/// lane of its own ("TIER#slot", up to `max_batch` at once, so the
/// upstream can batch them); its text pieces come back to the loop as
/// chunks, its end as the summary, and the tier's counters move as for a
/// local tier. Nothing here blocks the loop.
extension Scheduler {
    func pumpText(_ tier: Tier, model: ModelBackend) {
        if tier.state == .draining {
            if tier.active.isEmpty { finishDrainIfDone(tier) }
            return
        }
        while let index = tier.queue.firstIndex(where: { if case .tokenize = $0 { true } else { false } }),
              case .tokenize(let job) = tier.queue.remove(at: index) {
            job.sink.send(.failure(id: job.requestID, RemoteError(.unimplemented,
                "tier \(tier.name) is remote (\(tier.settings.remoteURL ?? tier.settings.plugin)): it has no tokenizer moed can use")))
        }
        while tier.active.count < daemon.maxBatch,
              let index = tier.queue.firstIndex(where: { if case .generate = $0 { true } else { false } }),
              case .generate(let g) = tier.queue.remove(at: index) {
            if let refusal = Self.textRefusal(g.request, tier: tier) {
                tier.counters.failedRequests += 1
                g.sink.send(.failure(id: g.requestID, refusal))
                continue
            }
            g.start(on: model, now: environment.now())
            g.textSlot = (0..<daemon.maxBatch).first { slot in !tier.active.contains { $0.textSlot == slot } } ?? 0
            tier.active.append(g)
            runText(g, on: tier, model: model)
        }
    }

    /// What a text-level backend cannot honour, refused by name rather than ignored.
    static func textRefusal(_ r: GenerateRequest, tier: Tier) -> RemoteError? {
        let field = r.jsonSchema != nil ? "json_schema" : r.grammar != nil ? "grammar" : r.logprobs != nil ? "logprobs" : nil
        return field.map {
            RemoteError(.invalidArgument, "generate.\($0): tier \(tier.name) is remote and does not pass \($0) to its upstream")
        }
    }

    private func runText(_ g: Generation, on tier: Tier, model: ModelBackend) {
        let request = Self.textRequest(g)
        let executor = environment.executor, now = environment.now
        let cancel = g.laneCancel
        executor.run(lane: "\(tier.name)#\(g.textSlot ?? 0)") { [self] in
            let started = now()
            let result = Result {
                try model.generateText(request, onDelta: { text in
                    executor.post { [self] in textDelta(text, of: g, on: tier) }
                    return cancel.isRequested
                }, isCancelled: { cancel.isRequested })
            }
            let seconds = now() - started
            executor.post { [self] in textEnded(g, result, seconds: seconds, on: tier) }
        }
    }

    /// The generation's resolved options (the tier's, with the request's
    /// overrides), as the backend is asked for them.
    static func textRequest(_ g: Generation) -> TextRequest {
        var r = TextRequest()
        r.messages = g.request.messages.map { ChatTurn(role: $0.role, content: $0.content) }
        r.prompt = g.request.prompt
        r.maxTokens = g.options.maxTokens
        r.sampling = g.options.sampling
        r.stops = g.options.stopStrings
        return r
    }

    /// One piece of text on the loop: a chunk to the client, and the
    /// latency histograms (a piece is a token for llama.cpp and vLLM,
    /// which stream one token per event).
    private func textDelta(_ text: String, of g: Generation, on tier: Tier) {
        guard !g.isCancelled, !text.isEmpty else { return }
        let now = environment.now()
        if g.firstTokenAt == 0 {
            g.firstTokenAt = now
            tier.counters.firstToken.observe(now - g.enqueuedAt)
        } else {
            tier.counters.tokenLatency.observe(now - g.lastTokenAt)
        }
        g.lastTokenAt = now
        g.textDeltas += 1
        tier.counters.completionTokens += 1
        g.sink.send(Response(id: g.requestID, isFinal: false, result: .chunk(GenerateChunk(text: text, tokens: []))))
    }

    private func textEnded(_ g: Generation, _ result: Result<TextResult, Error>, seconds: Double, on tier: Tier) {
        tier.active.removeAll { $0 === g }
        tier.counters.generationSeconds += seconds
        tier.lastUsed = environment.now()
        if g.isCancelled {
            tier.counters.failedRequests += 1  // the client was told CANCELLED when it cancelled
        } else {
            switch result {
            case .success(let end):
                let completion = max(end.completionTokens, g.textDeltas)
                g.textUsage = (end.promptTokens ?? 0, completion)
                tier.counters.promptTokens += UInt64(end.promptTokens ?? 0)
                tier.counters.completionTokens += UInt64(completion - g.textDeltas)
                finish(g, on: tier, reason: end.finishReason == "length" ? .length : .endOfGeneration)
            case .failure(let error):
                finish(g, on: tier, error: Self.textError(error, tier: tier))
            }
        }
        pump(tier)
        if tier.active.isEmpty { onChange() }
    }

    /// The plugin's status as moed's code; its message names the upstream.
    static func textError(_ error: Error, tier: Tier) -> RemoteError {
        guard let call = error as? PluginCallError else { return RemoteError(.internal, "tier \(tier.name): \(error)") }
        let code: StatusCode = switch call.code {
        case MOE_ERR_UNAVAILABLE.rawValue, MOE_ERR_FORMAT.rawValue, MOE_ERR_IO.rawValue: .unavailable
        case MOE_ERR_TIMEOUT.rawValue: .deadlineExceeded
        case MOE_ERR_PERMISSION.rawValue: .permissionDenied
        case MOE_ERR_RATE_LIMITED.rawValue: .resourceExhausted
        case MOE_ERR_NOT_FOUND.rawValue: .notFound
        case MOE_ERR_INVALID_ARGUMENT.rawValue: .invalidArgument
        case MOE_ERR_CANCELLED.rawValue: .cancelled
        default: .internal
        }
        return RemoteError(code, "tier \(tier.name): \(call.message)")
    }
}

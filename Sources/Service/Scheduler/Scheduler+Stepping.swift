import GenerationCore
import MoeAPI
import PluginHost

extension Scheduler {
    /// Moves queued work onto a ready tier and starts the next step.
    /// Called after anything that may let work proceed.
    /// A draining tier keeps stepping its running streams but takes no
    /// new work; it unloads once they end.
    func pump(_ tier: Tier) {
        // A run of steps in flight hands the tier back at its next step
        // boundary; this is called again then.
        if tier.isStepInFlight { tier.stepYield?.request() }
        guard tier.state == .ready || tier.state == .draining, let model = tier.model else { return }
        if tier.isStale && tier.state == .ready { return beginDrain(tier) }  // reloads with new settings
        if model.generatesText { return pumpText(tier, model: model) }
        dropCancelledIdle(tier)
        guard !tier.isStepInFlight, !tier.isJobInFlight else { return }
        if tier.state == .draining {
            if tier.active.isEmpty { return finishDrainIfDone(tier) }
            return runStep(tier, model: model)
        }
        // Before queued work joins: a file changed while the tier sat idle
        // fails the tier now, so the work waits for the reload instead of
        // failing on the old model. One fstat, only when work is queued.
        if !tier.queue.isEmpty, let problem = model.fileChange { return modelFileChanged(tier, problem) }
        if let index = tier.queue.firstIndex(where: { if case .tokenize = $0 { true } else { false } }),
           case .tokenize(let job) = tier.queue.remove(at: index) {
            return runTokenize(job, on: tier, model: model)
        }
        while tier.active.count < daemon.maxBatch, let index = tier.queue.firstIndex(where: { if case .generate = $0 { true } else { false } }) {
            // Each running sequence has room up to its context; one that
            // does not fit waits for a running one to end, or, with none
            // running, is refused with the figures.
            let refusal = reserveSequence(on: tier)
            if refusal != nil && !tier.active.isEmpty { break }
            guard case .generate(let generation) = tier.queue.remove(at: index) else { break }
            if let refusal {
                tier.counters.failedRequests += 1
                tier.counters.memoryRefusals += 1
                generation.sink.send(.failure(id: generation.requestID, refusal))
                continue
            }
            generation.start(on: model, now: environment.now())
            tier.active.append(generation)
        }
        if !tier.active.isEmpty {
            runStep(tier, model: model)
        } else if !tier.retiredSequences.isEmpty {
            removeRetiredSequences(tier, model: model)
        }
    }

    /// Frees the sequences of finished generations once the tier is idle,
    /// so a quiet tier holds no KV cache for requests that are gone.
    private func removeRetiredSequences(_ tier: Tier, model: ModelBackend) {
        let retired = tier.retiredSequences
        tier.retiredSequences = []
        tier.isJobInFlight = true
        let cache = tier.prefixCache
        environment.executor.run(lane: tier.name, { () -> MemoryUsage? in
            release(retired, model: model, cache: cache)
            return (try? model.memoryUsage()) ?? nil
        }, done: { [self] usage in
            tier.isJobInFlight = false
            updateUsage(tier, usage)
            pump(tier)
            onChange()
        })
    }

    /// Cancelled generations leave between steps; their sequences are
    /// removed by the next job on the lane.
    private func dropCancelledIdle(_ tier: Tier) {
        guard !tier.isStepInFlight else { return }
        for generation in tier.active where generation.isCancelled {
            retire(generation, from: tier)
            tier.counters.failedRequests += 1
        }
        tier.active.removeAll { $0.isCancelled }
        if tier.active.isEmpty && tier.queue.isEmpty { tier.lastUsed = environment.now(); onChange() }
    }

    /// Starts a run of steps on the tier's lane (see `StepJob`): each
    /// step's outcomes come back as they are made; the tier is free for
    /// the next `pump` when the run ends.
    private func runStep(_ tier: Tier, model: ModelBackend) {
        tier.isStepInFlight = true
        let yield = StepYield()
        tier.stepYield = yield
        let job = StepJob(model: model, generations: tier.active, retiredSequences: tier.retiredSequences,
                          prefixCache: tier.prefixCache,
                          contextLength: model.info.contextLength > 0 ? model.info.contextLength : tier.settings.context,
                          prefillChunk: environment.prefillChunk, vocabularies: tier.grammarVocabularies,
                          now: environment.now)
        tier.retiredSequences = []
        let executor = environment.executor, steps = environment.stepsPerRun
        executor.run(lane: tier.name) { [self] in
            job.run(maxSteps: steps, yield: yield) { result in
                executor.post { [self] in apply(result, on: tier) }
            }
            let usage = (try? model.memoryUsage()) ?? nil
            executor.post { [self] in
                updateUsage(tier, usage)
                tier.isStepInFlight = false
                tier.stepYield = nil
                tier.active.removeAll { $0.isCancelled }
                tier.lastUsed = environment.now()
                pump(tier)
                if tier.active.isEmpty { onChange() }
            }
        }
    }

    /// One step's results on the loop: counters, then each stream's token.
    /// A stream that ends here makes the run yield, so the next step
    /// leaves it out (the lane may already have computed one more).
    private func apply(_ result: StepResult, on tier: Tier) {
        tier.counters.generationSeconds += result.seconds
        if let problem = result.fileProblem { return modelFileChanged(tier, problem) }
        if let experts = result.experts {
            tier.counters.expertCounts = experts.counts
            tier.counters.routingEntropy = experts.entropy
        }
        result.outcomes.forEach { handle($0, on: tier) }
        if tier.active.contains(where: { $0.isCancelled }) { tier.stepYield?.request() }
        tier.lastUsed = environment.now()
    }

    /// Puts a generation's sequence on the tier's list for the next lane
    /// job, once: kept for prefix reuse (unless `keep` is false or the
    /// request opted out), else removed. A cancelled stream's KV is as
    /// good as a finished one's.
    private func retire(_ g: Generation, from tier: Tier, keep: Bool = true) {
        guard g.isPrepared, !g.isRetired else { return }
        g.isRetired = true
        let offered = keep && g.request.cachePrompt && tier.prefixCache != nil
        tier.retiredSequences.append(RetiredSequence(sequence: g.sequence, generation: offered ? g : nil))
    }

    /// Applies one step's result on the loop: stream text, or finish.
    /// GenerationCore's rules decide what the token shows and whether it
    /// ends the stream, as they do for `moectl run`.
    private func handle(_ outcome: StepOutcome, on tier: Tier) {
        let g = outcome.generation
        guard !g.isCancelled else {
            retire(g, from: tier)
            return
        }
        g.reportedContextShifts = max(g.reportedContextShifts, outcome.contextShifts)
        switch outcome.event {
        case .failed(let message):
            finish(g, on: tier, error: RemoteError(.internal, "generation failed: \(message)"))
        case .contextFull:
            finish(g, on: tier, reason: .contextFull, tail: g.rules.end(.contextFull))
        case .token(let token, let bytes, let logprob):
            let now = environment.now()
            if g.firstTokenAt == 0 {
                g.firstTokenAt = now
                tier.counters.promptTokens += UInt64(g.promptTokens.count)
                tier.counters.cachedPromptTokens += UInt64(g.cachedPromptTokens)
                if g.cachedPromptTokens > 0 { tier.counters.prefixCacheHits += 1 }
                tier.counters.firstToken.observe(now - g.enqueuedAt)
            } else {
                tier.counters.tokenLatency.observe(now - g.lastTokenAt)
            }
            g.lastTokenAt = now
            let step = g.rules.accept(token, bytes: bytes)
            if step.isOutput {
                tier.counters.completionTokens += 1
                let logprobs = logprob.map { [$0] } ?? []
                g.sink.send(Response(id: g.requestID, isFinal: false,
                                     result: .chunk(GenerateChunk(text: step.text, tokens: [token], logprobs: logprobs))))
            }
            if let reason = step.finish { finish(g, on: tier, reason: reason, tail: step.isOutput ? "" : step.text) }
        }
    }

    /// Ends a stream: an error, or the last text still held and the summary.
    func finish(_ g: Generation, on tier: Tier, reason: FinishReason = .cancelled, tail: String = "", error: RemoteError? = nil) {
        g.isCancelled = true  // leaves the active set after this step
        retire(g, from: tier, keep: error == nil)
        if let error {
            tier.counters.failedRequests += 1
            moedLog.warning("generate failed: \(error.message)", metadata: g.logMetadata(tier: tier.name))
            return g.sink.send(.failure(id: g.requestID, error))
        }
        if !tail.isEmpty {
            g.sink.send(Response(id: g.requestID, isFinal: false, result: .chunk(GenerateChunk(text: tail, tokens: []))))
        }
        let now = environment.now()
        var summary = GenerateSummary()
        summary.tier = tier.name
        summary.promptTokens = UInt32(clamping: g.textUsage?.prompt ?? g.promptTokens.count)
        summary.promptTokenIDs = g.promptTokens
        summary.cachedPromptTokens = UInt32(clamping: g.cachedPromptTokens)
        summary.completionTokens = UInt32(clamping: g.textUsage?.completion ?? g.completionTokens)
        summary.finishReason = reason.rawValue
        summary.contextShifts = UInt32(clamping: g.reportedContextShifts)
        summary.queueSeconds = g.startedAt - g.enqueuedAt
        summary.promptSeconds = (g.firstTokenAt > 0 ? g.firstTokenAt : now) - g.startedAt
        summary.generationSeconds = g.firstTokenAt > 0 ? now - g.firstTokenAt : 0
        g.sink.send(Response(id: g.requestID, isFinal: true, result: .summary(summary)))
        var metadata = g.logMetadata(tier: tier.name)
        metadata["finish"] = "\(reason)"
        metadata["prompt_tokens"] = "\(summary.promptTokens)"
        metadata["tokens"] = "\(summary.completionTokens)"
        moedLog.debug("generate done", metadata: metadata)
    }

    private func runTokenize(_ job: TokenizeJob, on tier: Tier, model: ModelBackend) {
        tier.isJobInFlight = true
        let request = job.request
        environment.executor.run(lane: tier.name, { () -> (Result<TokenizeReply, Error>, String?) in
            let checkpoint = model.fileCheckpoint()
            let reply = Result { () throws -> TokenizeReply in
                let tokens = try model.tokenize(request.text, addSpecial: request.addSpecial, parseSpecial: request.parseSpecial)
                return TokenizeReply(tokens: tokens, pieces: try tokens.map { try model.detokenize([$0]) })
            }
            return (reply, model.fileProblem(since: checkpoint))
        }, done: { [self] (result, problem) in
            tier.isJobInFlight = false
            tier.lastUsed = environment.now()
            if let problem {
                job.sink.send(.failure(id: job.requestID, Self.fileChangedError(tier)))
                return modelFileChanged(tier, problem)
            }
            switch result {
            case .success(let reply): job.sink.send(Response(id: job.requestID, isFinal: true, result: .tokenize(reply)))
            case .failure(let error): job.sink.send(.failure(id: job.requestID, RemoteError(.invalidArgument, "\(error)")))
            }
            pump(tier)
            onChange()
        })
    }
}

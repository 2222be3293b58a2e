import MoeAPI
import PluginHost

extension Scheduler {
    /// Starts a load unless one is running: concurrent first requests for
    /// an unloaded tier share one load.
    func ensureLoaded(_ tier: Tier) {
        switch tier.state {
        case .unloaded, .failed: startLoad(tier)
        case .ready where tier.isStale: beginDrain(tier)  // reloads with new settings once drained
        case .loading, .ready, .draining: break
        }
    }

    private var maxSequences: Int { daemon.maxBatch }

    func startLoad(_ tier: Tier) {
        guard tier.move(to: .loading) else { return }
        tier.lastError = ""
        tier.loadProgress = 0
        tier.isStale = false
        let settings = tier.settings
        let backends = environment.backends
        let sequences = maxSequences
        environment.executor.run(lane: tier.name, {
            Result { try backends.memoryEstimate(settings, maxSequences: sequences) }
        }, done: { [self] result in
            switch result {
            case .success(let estimate): admit(tier, estimate: estimate)
            case .failure(let error): loadFailed(tier, RemoteError(.failedPrecondition, "cannot load tier \(tier.name): \(error)"))
            }
        })
    }

    /// Checks the budget (freeing cached prefixes and evicting idle
    /// unpinned tiers if needed), then opens. The estimate holds weights,
    /// scratch and one full-context sequence: the first request's room.
    private func admit(_ tier: Tier, estimate: MemoryEstimate) {
        let need = estimate.totalBytes
        if let used = makeRoom(need, for: tier, to: "load \(tier.name)") {
            tier.counters.memoryRefusals += 1
            return loadFailed(tier, exhausted("tier \(tier.name)", need: need, used: used, excluding: tier))
        }
        tier.memory = TierMemory(estimate: estimate)
        open(tier)
    }

    private func open(_ tier: Tier) {
        let settings = tier.settings
        let backends = environment.backends
        let executor = environment.executor
        let sequences = maxSequences
        environment.executor.run(lane: tier.name, {
            Result { () throws -> (ModelBackend, MemoryUsage?, UInt64?) in
                let model = try backends.open(settings, maxSequences: sequences) { fraction in
                    executor.post { [weak self] in self?.reportProgress(tier, fraction) }
                }
                let context = model.info.contextLength > 0 ? model.info.contextLength : settings.context
                return (model, try? model.memoryUsage(), (try? model.sequenceBytes(positions: context)) ?? nil)
            }
        }, done: { [self] result in
            switch result {
            case .success(let (model, usage, reserve)):
                tier.memory.isOpen = true
                tier.memory.usage = usage
                if let reserve { tier.memory.sequenceReserve = reserve }
                loadSucceeded(tier, model)
            case .failure(let error): loadFailed(tier, RemoteError(.failedPrecondition, "cannot load tier \(tier.name): \(error)"))
            }
        })
    }

    private func reportProgress(_ tier: Tier, _ fraction: Float) {
        guard tier.state == .loading, fraction.isFinite else { return }
        tier.loadProgress = min(max(fraction, 0), 1)
        // Load and use callers, and generations waiting on the load, all see progress.
        let watchers = tier.loadWaiters.map { ($0.sink, $0.requestID) } + tier.queue.map { ($0.sink, $0.requestID) }
        for (sink, requestID) in watchers {
            sink.send(Response(id: requestID, isFinal: false,
                               result: .loadProgress(tier: tier.name, fraction: tier.loadProgress)))
        }
    }

    private func loadSucceeded(_ tier: Tier, _ model: ModelBackend) {
        guard tier.move(to: .ready) else { return model.close() }
        tier.model = model
        tier.loadProgress = 1
        tier.lastUsed = environment.now()
        tier.counters.layers = UInt32(clamping: model.info.layers)
        tier.counters.experts = UInt32(clamping: model.info.experts)
        tier.counters.loads += 1
        moedLog.info("tier \(tier.name) ready (\(model.info.architecture), \(formatBytes(tier.memoryBytes)))", metadata: ["tier": "\(tier.name)"])
        let waiters = tier.loadWaiters
        tier.loadWaiters = []
        waiters.forEach { finishLoadWaiter($0, tier: tier) }
        pump(tier)
        onChange()
    }

    func finishLoadWaiter(_ waiter: LoadWaiter, tier: Tier) {
        if waiter.purpose == .use { setDefault(tier.name) }
        waiter.sink.send(Response(id: waiter.requestID, isFinal: true, result: .tier(status(of: tier))))
    }

    /// A failed load is a state, not a stuck entry: everyone waiting hears
    /// why, and the next request tries again.
    private func loadFailed(_ tier: Tier, _ error: RemoteError) {
        guard tier.move(to: .failed) else { return }
        moedLog.error("tier \(tier.name) failed: \(error.message)", metadata: ["tier": "\(tier.name)"])
        tier.counters.loadFailures += 1
        tier.lastError = error.message
        tier.memory = TierMemory()
        let waiters = tier.loadWaiters
        let queued = tier.queue
        tier.loadWaiters = []
        tier.queue = []
        tier.counters.failedRequests += UInt64(queued.count)
        waiters.forEach { $0.sink.send(.failure(id: $0.requestID, error)) }
        queued.forEach { $0.sink.send(.failure(id: $0.requestID, error)) }
        onChange()
    }

    /// Stops taking new work onto the tier; unloads once its streams end.
    func beginDrain(_ tier: Tier) {
        if tier.state == .ready { tier.move(to: .draining) }
        finishDrainIfDone(tier)
    }

    func finishDrainIfDone(_ tier: Tier) {
        guard tier.state == .draining, tier.active.isEmpty, !tier.isStepInFlight, !tier.isJobInFlight else { return }
        let model = tier.model
        let retired = tier.retiredSequences
        tier.model = nil
        tier.retiredSequences = []
        tier.isJobInFlight = true
        environment.executor.run(lane: tier.name, {
            if let model { release(retired, model: model, cache: nil) }
            model?.close()
            FreedMemory.release()
        }, done: { [self] in
            tier.isJobInFlight = false
            tier.move(to: .unloaded)
            tier.memory = TierMemory()
            tier.loadProgress = 0
            moedLog.info("tier \(tier.name) unloaded", metadata: ["tier": "\(tier.name)"])
            let waiters = tier.unloadWaiters
            tier.unloadWaiters = []
            waiters.forEach { $0.sink.send(Response(id: $0.requestID, isFinal: true, result: .tier(status(of: tier)))) }
            afterUnload(tier)
        })
    }

    private func afterUnload(_ tier: Tier) {
        if tier.isRetired {
            tiers[tier.name] = nil
            tierOrder.removeAll { $0 == tier.name }
        } else if !tier.queue.isEmpty || !tier.loadWaiters.isEmpty {
            startLoad(tier)
        }
        onChange()
    }

    // MARK: keep-alive

    /// Seconds until the next idle tier's keep-alive runs out, if any.
    public func nextKeepAliveDeadline() -> Double? {
        let now = environment.now()
        return tiers.values.compactMap { tier -> Double? in
            guard tier.isIdle, !tier.settings.isPinned, let keepAlive = tier.settings.keepAlive else { return nil }
            return max(0, tier.lastUsed + keepAlive - now)
        }.min()
    }

    /// Unloads idle tiers whose keep-alive ran out.
    public func expireIdleTiers() {
        let now = environment.now()
        for tier in tiers.values where tier.isIdle && !tier.settings.isPinned {
            if let keepAlive = tier.settings.keepAlive, now - tier.lastUsed >= keepAlive {
                moedLog.info("tier \(tier.name) idle for \(Int(now - tier.lastUsed)) s: unloading", metadata: ["tier": "\(tier.name)"])
                beginDrain(tier)
            }
        }
    }

    /// Loads pinned tiers at start, so they are warm before the first call.
    public func loadPinnedTiers() {
        for name in tierOrder { if let tier = tiers[name], tier.settings.isPinned { ensureLoaded(tier) } }
    }

    /// For shutdown: unloads every loaded tier once it is quiet.
    public func unloadAll() {
        tiers.values.forEach { if $0.state == .ready || $0.state == .draining { beginDrain($0) } }
    }

    /// True once no model is open or being opened or closed.
    public var isFullyUnloaded: Bool {
        tiers.values.allSatisfy { ($0.state == .unloaded || $0.state == .failed) && !$0.isJobInFlight }
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(Int(value * 10) / 10) + "." + String(Int(value * 10) % 10) + " " + units[unit]
}

import MoeAPI

extension Scheduler {
    /// What a stream or call of a tier whose model file changed on disk
    /// ends with. FAILED_PRECONDITION: the tier's model is no longer the
    /// file it loaded; the same call succeeds once the tier has loaded the
    /// file anew (which the next request does).
    static func fileChangedError(_ tier: Tier) -> RemoteError {
        RemoteError(.failedPrecondition, "model file changed on disk: \(tier.name)")
    }

    /// The tier's model file changed in place (or a read of its mapped
    /// bytes faulted): nothing more it computes can be trusted. Its
    /// streams end with an error, it moves to `failed` and its model is
    /// closed; queued work stays and loads the file anew, like any
    /// request to a failed tier. Other tiers are not touched.
    func modelFileChanged(_ tier: Tier, _ problem: String) {
        guard tier.state == .ready || tier.state == .draining, let model = tier.model else { return }
        let error = Self.fileChangedError(tier)
        moedLog.warning("tier \(tier.name): \(error.message) (\(problem)); unloading, the next request loads it anew", metadata: ["tier": "\(tier.name)"])
        for generation in tier.active where !generation.isCancelled {
            finish(generation, on: tier, error: error)
        }
        tier.move(to: .failed)
        tier.lastError = "\(error.message) (\(problem))"
        tier.model = nil
        tier.memory = TierMemory()
        tier.loadProgress = 0
        // The model goes with its sequences; closing waits on the lane for
        // the run of steps in flight, if any, to end.
        tier.retiredSequences = []
        tier.isJobInFlight = true
        environment.executor.run(lane: tier.name, { model.close() }, done: { [self] in
            tier.isJobInFlight = false
            let waiters = tier.unloadWaiters
            tier.unloadWaiters = []
            waiters.forEach { $0.sink.send(Response(id: $0.requestID, isFinal: true, result: .tier(status(of: tier)))) }
            if tier.isRetired {
                tiers[tier.name] = nil
                tierOrder.removeAll { $0 == tier.name }
            } else if !tier.queue.isEmpty || !tier.loadWaiters.isEmpty {
                ensureLoaded(tier)
            }
            onChange()
        })
        onChange()
    }
}

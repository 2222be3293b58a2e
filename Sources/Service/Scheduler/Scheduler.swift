import Grammar
import MoeAPI
import PluginHost

/// Owns the tiers: their states, memory, queues and generation steps.
/// Every method runs on the loop thread; blocking work goes to the
/// executor's lanes and comes back through `executor.post`.
public final class Scheduler {
    let environment: SchedulerEnvironment
    var configuration: Configuration
    var tiers: [String: Tier] = [:]
    var tierOrder: [String] = []
    public private(set) var defaultTier: String
    /// Set once shutdown began: new work is refused.
    public private(set) var isShuttingDown = false
    /// Called after any change that may move the next keep-alive deadline.
    public var onChange: () -> Void = {}

    public init(configuration: Configuration, environment: SchedulerEnvironment) {
        self.configuration = configuration
        self.environment = environment
        self.defaultTier = configuration.daemon.defaultTier
        for settings in configuration.tiers { addTier(settings) }
    }

    func addTier(_ settings: TierSettings) {
        tiers[settings.name] = Tier(settings: settings, now: environment.now())
        tierOrder.append(settings.name)
    }

    var daemon: DaemonSettings { configuration.daemon }

    /// The budget in bytes; "auto" is 80 % of physical memory.
    public var memoryBudget: UInt64 {
        daemon.memoryBudget ?? environment.physicalMemory() / 5 * 4
    }

    public var memoryUsed: UInt64 {
        tiers.values.filter { $0.state == .loading || $0.state == .ready || $0.state == .draining }
            .reduce(0) { $0 &+ $1.memoryBytes }
    }

    var queuedCount: Int { tiers.values.reduce(0) { $0 + $1.queue.count } }

    /// No tier is busy: shutdown may close the models.
    public var isQuiet: Bool {
        tiers.values.allSatisfy { $0.active.isEmpty && $0.queue.isEmpty && !$0.isStepInFlight && $0.state != .loading }
    }

    // MARK: calls

    public func generate(_ request: GenerateRequest, id: UInt64, sink: ResponseSink) {
        if let problem = request.validationProblem() {
            return sink.send(.failure(id: id, RemoteError(.invalidArgument, problem)))
        }
        guard let tier = resolve(request.tier, id: id, sink: sink) else { return }
        guard request.messages.isEmpty ? !request.prompt.isEmpty : true else {
            return sink.send(.failure(id: id, RemoteError(.invalidArgument, "give a prompt or chat messages")))
        }
        let grammar: Grammar?
        do { grammar = try request.compiledGrammar() } catch { return sink.send(.failure(id: id, error)) }
        let generation = Generation(sink: sink, requestID: id, request: request, tier: tier.settings,
                                    grammar: grammar, now: environment.now())
        enqueue(.generate(generation), on: tier)
    }

    public func tokenize(_ request: TokenizeRequest, id: UInt64, sink: ResponseSink) {
        guard let tier = resolve(request.tier, id: id, sink: sink) else { return }
        enqueue(.tokenize(TokenizeJob(sink: sink, requestID: id, request: request)), on: tier)
    }

    public func load(tier name: String, id: UInt64, sink: ResponseSink) {
        load(tier: name, id: id, sink: sink, purpose: .load)
    }

    func load(tier name: String, id: UInt64, sink: ResponseSink, purpose: LoadWaiter.Purpose) {
        guard let tier = resolve(name, id: id, sink: sink, allowDefault: false) else { return }
        let waiter = LoadWaiter(sink: sink, requestID: id, purpose: purpose)
        if tier.state == .ready && !tier.isStale {
            return finishLoadWaiter(waiter, tier: tier)
        }
        tier.loadWaiters.append(waiter)
        ensureLoaded(tier)
    }

    /// Loads the tier if needed, then makes it the default. A failed load
    /// leaves the current default serving.
    public func use(tier name: String, id: UInt64, sink: ResponseSink) {
        load(tier: name, id: id, sink: sink, purpose: .use)
    }

    public func unload(tier name: String, id: UInt64, sink: ResponseSink) {
        guard let tier = resolve(name, id: id, sink: sink, allowDefault: false) else { return }
        switch tier.state {
        case .unloaded:
            sink.send(Response(id: id, isFinal: true, result: .tier(status(of: tier))))
        case .failed:
            tier.move(to: .unloaded)
            sink.send(Response(id: id, isFinal: true, result: .tier(status(of: tier))))
        case .loading:
            sink.send(.failure(id: id, RemoteError(.failedPrecondition, "tier \(name) is loading; unload it once it is ready")))
        case .ready, .draining:
            tier.unloadWaiters.append(UnloadWaiter(sink: sink, requestID: id))
            beginDrain(tier)
        }
    }

    /// Cancels call `target` of the same connection; its stream ends with
    /// CANCELLED and its slot frees at the next step.
    public func cancel(target: UInt64, id: UInt64, sink: ResponseSink) {
        let found = cancelWork { $0.sink === sink && $0.requestID == target }
        for (generationSink, requestID) in found {
            generationSink.send(.failure(id: requestID, RemoteError(.cancelled, "cancelled by request \(id)")))
        }
        if found.isEmpty {
            sink.send(.failure(id: id, RemoteError(.notFound, "no call \(target) in flight on this connection")))
        } else {
            sink.send(Response(id: id, isFinal: true))
        }
    }

    /// A client went away: drop its waiting work, cancel its generations.
    public func disconnect(_ sink: ResponseSink) {
        _ = cancelWork { $0.sink === sink }
        for tier in tiers.values {
            tier.loadWaiters.removeAll { $0.sink === sink }
            tier.unloadWaiters.removeAll { $0.sink === sink }
        }
    }

    /// Marks matching work cancelled; returns who to tell.
    private func cancelWork(_ matches: (TierWork) -> Bool) -> [(ResponseSink, UInt64)] {
        var found: [(ResponseSink, UInt64)] = []
        for tier in tiers.values {
            for work in tier.queue where matches(work) { found.append((work.sink, work.requestID)) }
            tier.queue.removeAll(where: matches)
            for generation in tier.active where !generation.isCancelled && matches(.generate(generation)) {
                generation.isCancelled = true
                found.append((generation.sink, generation.requestID))
            }
            pump(tier)
        }
        return found
    }

    // MARK: helpers

    /// The tier a call names (or the default), or answers NOT_FOUND.
    func resolve(_ name: String, id: UInt64, sink: ResponseSink, allowDefault: Bool = true) -> Tier? {
        if isShuttingDown {
            sink.send(.failure(id: id, RemoteError(.unavailable, "moed is shutting down")))
            return nil
        }
        let wanted = name.isEmpty && allowDefault ? defaultTier : name
        guard let tier = tiers[wanted], !tier.isRetired else {
            let known = tierOrder.filter { !(tiers[$0]?.isRetired ?? true) }.joined(separator: ", ")
            sink.send(.failure(id: id, RemoteError(.notFound, "no tier named '\(wanted)' (tiers: \(known))")))
            return nil
        }
        return tier
    }

    private func enqueue(_ work: TierWork, on tier: Tier) {
        guard queuedCount < daemon.maxQueue else {
            work.sink.send(.failure(id: work.requestID, RemoteError(.resourceExhausted,
                "queue full: \(queuedCount) requests waiting (max_queue = \(daemon.maxQueue))")))
            return
        }
        tier.queue.append(work)
        tier.counters.requests += 1
        ensureLoaded(tier)
        pump(tier)
    }

    func status(of tier: Tier) -> TierStatus {
        tier.status(isDefault: tier.name == defaultTier, now: environment.now())
    }

    func setDefault(_ name: String) {
        defaultTier = name
        onChange()
    }

    /// Starts shutdown: refuse new calls; running ones finish.
    public func beginShutdown() {
        isShuttingDown = true
    }
}

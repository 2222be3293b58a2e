import MoeAPI

/// Sends each decoded request to the scheduler or the daemon.
final class RequestRouter: ConnectionDelegate {
    let scheduler: Scheduler
    weak var daemon: Daemon?

    init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    func connection(_ connection: Connection, received request: Request) {
        if let refusal = connection.access.policy.refusal(of: request.call, from: connection.peer) {
            moedLog.warning("refused \(request.call.name) from uid \(connection.peer.uid) (pid \(connection.peer.pid)): not an admin")
            return connection.send(.failure(id: request.id, refusal))
        }
        route(request, from: connection)
    }

    func connectionDidClose(_ connection: Connection) {
        scheduler.disconnect(connection)
    }

    func route(_ request: Request, from sink: ResponseSink) {
        let id = request.id
        switch request.call {
        case .status:
            guard let daemon else { return }
            sink.send(Response(id: id, isFinal: true, result: .status(daemon.statusReply())))
        case .tiers:
            sink.send(Response(id: id, isFinal: true,
                               result: .tiers(TiersReply(defaultTier: scheduler.defaultTier, tiers: scheduler.tierStatuses()))))
        case .plugins:
            sink.send(Response(id: id, isFinal: true, result: .plugins(scheduler.pluginReport())))
        case .load(let tier): scheduler.load(tier: tier, id: id, sink: sink)
        case .unload(let tier): scheduler.unload(tier: tier, id: id, sink: sink)
        case .use(let tier): scheduler.use(tier: tier, id: id, sink: sink)
        case .generate(let generate): scheduler.generate(generate, id: id, sink: sink)
        case .tokenize(let tokenize): scheduler.tokenize(tokenize, id: id, sink: sink)
        case .stats: sink.send(Response(id: id, isFinal: true, result: .stats(scheduler.stats())))
        case .reload: reload(id: id, sink: sink)
        case .cancel(let target): scheduler.cancel(target: target, id: id, sink: sink)
        }
    }

    private func reload(id: UInt64, sink: ResponseSink) {
        guard let daemon else { return }
        switch daemon.reload() {
        case .success(let configuration):
            var reply = ReloadReply()
            reply.configPath = configuration.path
            reply.tiers = configuration.tiers.map(\.name)
            reply.defaultTier = scheduler.defaultTier
            sink.send(Response(id: id, isFinal: true, result: .reload(reply)))
        case .failure(let error):
            sink.send(.failure(id: id, RemoteError(.invalidArgument, "config refused, running config kept: \(error)")))
        }
    }
}

import Foundation
import Hummingbird
import Logging
import MoeAPI
import MoeClient

/// moegate: OpenAI's HTTP API, `/metrics` and `/healthz` in front of moed,
/// speaking to it only through its public socket protocol (MoeClient), one
/// connection per request, so either side restarts on its own.
public struct Gateway: Sendable {
    public let socketPath: String
    public let listen: ListenAddress
    public let keys: APIKeys
    let counters = GatewayCounters()
    let logger: Logger

    /// Refuses a listener other hosts can reach unless API keys guard it.
    public init(socketPath: String, listen: ListenAddress, keys: APIKeys, logger: Logger) throws {
        if !listen.isLocalOnly && !keys.isEnforced {
            throw GatewaySetupError(
                "--listen \(listen) is reachable from other hosts: give --api-keys FILE, or listen on loopback or unix:PATH")
        }
        self.socketPath = socketPath
        self.listen = listen
        self.keys = keys
        self.logger = logger
    }

    public func run(onRunning: @escaping @Sendable (Int?) async -> Void = { _ in }) async throws {
        let address: BindAddress = switch listen {
        case .tcp(let host, let port): .hostname(host, port: port)
        case .unix(let path): .unixDomainSocket(path: path)
        }
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: address, serverName: "moegate"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port) },
            logger: logger)
        try await app.runService()
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: OpenAIShapeMiddleware(keys: keys, counters: counters))
        let completions = CompletionHandler(socketPath: socketPath, counters: counters, logger: logger)
        router.post("/v1/chat/completions") { request, _ in try await completions.handle(request, chat: true) }
        router.post("/v1/completions") { request, _ in try await completions.handle(request, chat: false) }
        router.get("/v1/models") { _, _ in await self.models(only: nil) }
        router.get("/v1/models/{id}") { _, context in await self.models(only: context.parameters.get("id") ?? "") }
        router.get("/healthz") { _, _ in await self.health() }
        router.get("/metrics") { _, _ in await self.metrics() }
        return router
    }

    func models(only id: String?) async -> Response {
        do {
            let response = try await MoeClient.finalResponse(socketPath: socketPath, call: .tiers)
            guard case .tiers(let reply)? = response.result else { throw ClientError.connectionLost("tiers: unexpected answer") }
            let models = reply.tiers.map(ModelObject.init)
            guard let id else { return jsonResponse(ModelList(data: models)) }
            guard let model = models.first(where: { $0.id == id }) else { return OpenAIError.unknownModel(id).response() }
            return jsonResponse(model)
        } catch {
            return OpenAIError.from(error).response()
        }
    }

    /// 200 when moed answers `status`, 503 (naming why) when it does not.
    func health() async -> Response {
        struct Health: Encodable { var status: String; var moed: String; var error: String? }
        do {
            let response = try await MoeClient.finalResponse(socketPath: socketPath, call: .status)
            guard case .status(let status)? = response.result else { throw ClientError.connectionLost("status: unexpected answer") }
            return jsonResponse(Health(status: "ok", moed: status.version))
        } catch {
            return jsonResponse(Health(status: "unavailable", moed: "", error: "\(error)"), status: .serviceUnavailable)
        }
    }

    func metrics() async -> Response {
        var report = MetricsReport(status: nil, stats: [], gateway: counters.snapshot)
        if case .status(let status)? = try? await MoeClient.finalResponse(socketPath: socketPath, call: .status).result,
           case .stats(let stats)? = try? await MoeClient.finalResponse(socketPath: socketPath, call: .stats).result {
            report.status = status
            report.stats = stats
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: report.render())))
    }
}

/// Checks the API key, and answers errors Hummingbird raises itself (no
/// route, body too large) in OpenAI's shape too.
struct OpenAIShapeMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let keys: APIKeys
    let counters: GatewayCounters

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path != "/healthz", !keys.admits(authorization: request.headers[.authorization]) {
            counters.countUnauthorized()
            return OpenAIError.unauthorized.response()
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            if error.status == .notFound { return OpenAIError.notFound(path: request.uri.path).response() }
            let type = error.status.code < 500 ? "invalid_request_error" : "server_error"
            return OpenAIError(status: error.status, message: error.body ?? error.status.reasonPhrase, type: type).response()
        }
    }
}

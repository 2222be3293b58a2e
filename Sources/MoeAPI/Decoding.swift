import MoeProtoC

/// Bytes that are not a valid message of the expected type.
public struct DecodingError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// Set when the message was well formed but a field is refused: the
    /// call can be answered under its id and the connection kept.
    public let requestID: UInt64?
    public init(_ message: String, requestID: UInt64? = nil) {
        self.message = message
        self.requestID = requestID
    }
    public var description: String { message }
}

extension Request {
    /// Decodes one Request; hostile bytes give a DecodingError, never a trap.
    public init(serialized bytes: [UInt8]) throws {
        let unpacked = bytes.withUnsafeBufferPointer { moed__v1__request__unpack(nil, $0.count, $0.baseAddress) }
        guard let unpacked else { throw DecodingError("not a valid moed.v1.Request protobuf message") }
        defer { moed__v1__request__free_unpacked(unpacked, nil) }
        let m = unpacked.pointee
        if let problem = bytes.withUnsafeBytes({ raw in
            withUnsafePointer(to: moed__v1__request__descriptor) { WireCheck.problem(in: raw, of: $0) }
        }) {
            throw DecodingError(problem, requestID: m.id)
        }
        guard let call = try Self.call(of: m) else { throw DecodingError("request \(m.id) names no call") }
        self.init(id: m.id, call: call)
    }

    private static func call(of m: Moed__V1__Request) throws -> Call? {
        switch m.call_case {
        case MOED__V1__REQUEST__CALL_STATUS: return .status
        case MOED__V1__REQUEST__CALL_TIERS: return .tiers
        case MOED__V1__REQUEST__CALL_PLUGINS: return .plugins
        case MOED__V1__REQUEST__CALL_LOAD: return .load(tier: text(m.load?.pointee.tier))
        case MOED__V1__REQUEST__CALL_UNLOAD: return .unload(tier: text(m.unload?.pointee.tier))
        case MOED__V1__REQUEST__CALL_USE: return .use(tier: text(m.use?.pointee.tier))
        case MOED__V1__REQUEST__CALL_GENERATE:
            guard let g = m.generate?.pointee else { return nil }
            return .generate(GenerateRequest(g))
        case MOED__V1__REQUEST__CALL_TOKENIZE:
            guard let t = m.tokenize?.pointee else { return nil }
            var request = TokenizeRequest()
            request.tier = text(t.tier)
            request.text = text(t.text)
            request.addSpecial = t.add_special != 0
            request.parseSpecial = t.parse_special != 0
            return .tokenize(request)
        case MOED__V1__REQUEST__CALL_STATS: return .stats
        case MOED__V1__REQUEST__CALL_RELOAD: return .reload
        case MOED__V1__REQUEST__CALL_CANCEL: return .cancel(targetID: m.cancel?.pointee.target_id ?? 0)
        default: return nil
        }
    }
}

extension GenerateRequest {
    init(_ g: Moed__V1__GenerateRequest) {
        self.init()
        tier = text(g.tier)
        prompt = text(g.prompt)
        messages = elements(g.messages, g.n_messages).compactMap { pointer in
            pointer.map { ChatMessage(role: text($0.pointee.role), content: text($0.pointee.content)) }
        }
        if let s = g.sampling?.pointee { sampling = SamplingOverrides(s) }
        stop = elements(g.stop, g.n_stop).map { text($0) }
        maxTokens = g.has_max_tokens != 0 ? g.max_tokens : 0
        logprobs = g.has_logprobs != 0 ? g.logprobs : nil
        contextShift = g.has_context_shift != 0 ? g.context_shift != 0 : nil
        jsonSchema = g.json_schema.map { String(cString: $0) }
        grammar = g.grammar.map { String(cString: $0) }
        cachePrompt = g.has_cache_prompt == 0 || g.cache_prompt != 0  // prefix11
    }
}

extension SamplingOverrides {
    init(_ s: Moed__V1__Sampling) {
        self.init()
        if s.has_temperature != 0 { temperature = s.temperature }
        if s.has_top_k != 0 { topK = s.top_k }
        if s.has_top_p != 0 { topP = s.top_p }
        if s.has_min_p != 0 { minP = s.min_p }
        if s.has_repeat_penalty != 0 { repeatPenalty = s.repeat_penalty }
        if s.has_repeat_last_n != 0 { repeatLastN = s.repeat_last_n }
        if s.has_seed != 0 { seed = s.seed }
    }
}

extension Response {
    /// Decodes one Response; hostile bytes give a DecodingError, never a trap.
    public init(serialized bytes: [UInt8]) throws {
        let unpacked = bytes.withUnsafeBufferPointer { moed__v1__response__unpack(nil, $0.count, $0.baseAddress) }
        guard let unpacked else { throw DecodingError("not a valid moed.v1.Response protobuf message") }
        defer { moed__v1__response__free_unpacked(unpacked, nil) }
        let m = unpacked.pointee
        self.init(id: m.id, isFinal: m.final != 0)
        if let e = m.error?.pointee {
            error = RemoteError(StatusCode(rawValue: Int(e.code.rawValue)) ?? .unknown, text(e.message))
        }
        result = Self.result(of: m)
    }

    private static func result(of m: Moed__V1__Response) -> Result? {
        switch m.result_case {
        case MOED__V1__RESPONSE__RESULT_STATUS: return m.status.map { .status(StatusReply($0.pointee)) }
        case MOED__V1__RESPONSE__RESULT_TIERS:
            return m.tiers.map { .tiers(TiersReply(defaultTier: text($0.pointee.default_tier), tiers: tierList($0.pointee.tiers, $0.pointee.n_tiers))) }
        case MOED__V1__RESPONSE__RESULT_PLUGINS:
            return m.plugins.map { .plugins(elements($0.pointee.plugins, $0.pointee.n_plugins).compactMap { $0.map { PluginInfo($0.pointee) } }) }
        case MOED__V1__RESPONSE__RESULT_LOAD_PROGRESS:
            return m.load_progress.map { .loadProgress(tier: text($0.pointee.tier), fraction: $0.pointee.fraction) }
        case MOED__V1__RESPONSE__RESULT_TIER: return m.tier.map { .tier(TierStatus($0.pointee)) }
        case MOED__V1__RESPONSE__RESULT_CHUNK:
            return m.chunk.map { c in
                let logprobs = elements(c.pointee.logprobs, c.pointee.n_logprobs).compactMap { $0.map { GenerateChunk.TokenLogprob($0.pointee) } }
                return .chunk(GenerateChunk(text: text(c.pointee.text), tokens: elements(c.pointee.tokens, c.pointee.n_tokens), logprobs: logprobs))
            }
        case MOED__V1__RESPONSE__RESULT_SUMMARY: return m.summary.map { .summary(GenerateSummary($0.pointee)) }
        case MOED__V1__RESPONSE__RESULT_TOKENIZE:
            return m.tokenize.map { t in
                let pieces = elements(t.pointee.pieces, t.pointee.n_pieces).map { elements($0.data, $0.len) }
                return .tokenize(TokenizeReply(tokens: elements(t.pointee.tokens, t.pointee.n_tokens), pieces: pieces))
            }
        case MOED__V1__RESPONSE__RESULT_STATS:
            return m.stats.map { .stats(elements($0.pointee.tiers, $0.pointee.n_tiers).compactMap { $0.map { TierStats($0.pointee) } }) }
        case MOED__V1__RESPONSE__RESULT_RELOAD:
            return m.reload.map { r in
                var reply = ReloadReply()
                reply.configPath = text(r.pointee.config_path)
                reply.defaultTier = text(r.pointee.default_tier)
                reply.tiers = elements(r.pointee.tiers, r.pointee.n_tiers).map { text($0) }
                return .reload(reply)
            }
        default: return nil
        }
    }
}

func tierList(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Moed__V1__TierStatus>?>?, _ count: Int) -> [TierStatus] {
    elements(pointer, count).compactMap { $0.map { TierStatus($0.pointee) } }
}

extension TierStatus {
    init(_ t: Moed__V1__TierStatus) {
        self.init()
        name = text(t.name)
        plugin = text(t.plugin)
        model = text(t.model)
        state = TierState(rawValue: Int(t.state.rawValue)) ?? .unloaded
        isDefault = t.is_default != 0
        isPinned = t.pinned != 0
        memoryBytes = t.memory_bytes
        activeRequests = t.active_requests
        queuedRequests = t.queued_requests
        lastError = text(t.last_error)
        context = t.context
        keepAliveSeconds = t.keep_alive_seconds
        idleSeconds = t.idle_seconds
        loadProgress = t.load_progress
        cachedSequences = t.cached_sequences  // prefix11
        cachedBytes = t.cached_bytes
        memory = TierMemoryFigures(t)
        remoteURL = text(t.remote_url)  // remote13
    }
}

extension StatusReply {
    init(_ s: Moed__V1__StatusReply) {
        self.init()
        pid = s.pid
        version = text(s.version)
        defaultTier = text(s.default_tier)
        uptimeSeconds = s.uptime_seconds
        configPath = text(s.config_path)
        socket = text(s.socket)
        memoryBudget = s.memory_budget
        memoryUsed = s.memory_used
        memoryHeld = s.memory_held
        memoryReserved = s.memory_reserved
        connections = s.connections
        tiers = tierList(s.tiers, s.n_tiers)
    }
}

extension PluginInfo {
    init(_ p: Moed__V1__PluginInfo) {
        self.init()
        name = text(p.name)
        path = text(p.path)
        version = text(p.version)
        isLoaded = p.loaded != 0
        error = text(p.error)
    }
}

extension GenerateSummary {
    init(_ s: Moed__V1__GenerateSummary) {
        self.init()
        tier = text(s.tier)
        promptTokens = s.prompt_tokens
        completionTokens = s.completion_tokens
        finishReason = text(s.finish_reason)
        promptSeconds = s.prompt_seconds
        generationSeconds = s.generation_seconds
        queueSeconds = s.queue_seconds
        promptTokenIDs = elements(s.prompt_token_ids, s.n_prompt_token_ids)
        contextShifts = s.context_shifts
        cachedPromptTokens = s.cached_prompt_tokens  // prefix11
    }
}

extension GenerateChunk.TokenLogprob {
    init(_ l: Moed__V1__GenerateChunk__TokenLogprob) {
        let piece = l.has_piece != 0 && l.piece.len > 0 ? elements(l.piece.data, l.piece.len) : []
        let top = elements(l.top, l.n_top).compactMap { $0.map { GenerateChunk.TokenLogprob($0.pointee) } }
        self.init(token: l.token, logprob: l.logprob, piece: piece, top: top)
    }
}

extension TierStats {
    init(_ s: Moed__V1__TierStats) {
        self.init()
        name = text(s.name)
        requests = s.requests
        failedRequests = s.failed_requests
        promptTokens = s.prompt_tokens
        completionTokens = s.completion_tokens
        generationSeconds = s.generation_seconds
        layers = s.layers
        experts = s.experts
        expertCounts = elements(s.expert_counts, s.n_expert_counts)
        routingEntropy = elements(s.routing_entropy, s.n_routing_entropy)
        cachedPromptTokens = s.cached_prompt_tokens  // prefix11
        prefixCacheHits = s.prefix_cache_hits
        let bounds = elements(s.latency_bounds, s.n_latency_bounds)
        firstToken = LatencyHistogram(bounds: bounds, counts: elements(s.first_token_buckets, s.n_first_token_buckets),
                                      sum: s.first_token_seconds_sum)
        tokenLatency = LatencyHistogram(bounds: bounds, counts: elements(s.token_latency_buckets, s.n_token_latency_buckets),
                                        sum: s.token_latency_seconds_sum)
        loads = s.loads
        evictions = s.evictions
        loadFailures = s.load_failures
        kvCachePeakBytes = s.kv_cache_peak_bytes
        memoryRefusals = s.memory_refusals
    }
}

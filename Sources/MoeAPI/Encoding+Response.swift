import MoeProtoC

// Swift Response → protobuf-c → bytes.

extension Response {
    /// The protobuf encoding of this response (without the frame header).
    public func serialized() -> [UInt8] {
        let arena = Arena()
        let m: UnsafeMutablePointer<Moed__V1__Response> = arena.message { moed__v1__response__init($0) }
        m.pointee.has_id = 1
        m.pointee.id = id
        m.pointee.has_final = 1
        m.pointee.final = isFinal ? 1 : 0
        if let error {
            m.pointee.error = arena.message {
                moed__v1__error__init($0)
                $0.pointee.has_code = 1
                $0.pointee.code = Moed__V1__Code(rawValue: UInt32(error.code.rawValue))
                $0.pointee.message = arena.string(error.message)
            }
        }
        if let result { fill(m, result, arena) }
        return pack(m)
    }

    private func fill(_ m: UnsafeMutablePointer<Moed__V1__Response>, _ result: Result, _ arena: Arena) {
        switch result {
        case .status(let reply):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_STATUS
            m.pointee.status = reply.build(arena)
        case .tiers(let reply):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_TIERS
            m.pointee.tiers = arena.message {
                moed__v1__tiers_reply__init($0)
                $0.pointee.default_tier = arena.string(reply.defaultTier)
                $0.pointee.n_tiers = reply.tiers.count
                $0.pointee.tiers = arena.pointers(reply.tiers.map { $0.build(arena) })
            }
        case .plugins(let plugins):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_PLUGINS
            m.pointee.plugins = arena.message {
                moed__v1__plugins_reply__init($0)
                $0.pointee.n_plugins = plugins.count
                $0.pointee.plugins = arena.pointers(plugins.map { $0.build(arena) })
            }
        case .loadProgress(let tier, let fraction):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_LOAD_PROGRESS
            m.pointee.load_progress = arena.message {
                moed__v1__load_progress__init($0)
                $0.pointee.tier = arena.string(tier)
                $0.pointee.has_fraction = 1
                $0.pointee.fraction = fraction
            }
        case .tier(let status):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_TIER
            m.pointee.tier = status.build(arena)
        case .chunk(let chunk):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_CHUNK
            m.pointee.chunk = arena.message {
                moed__v1__generate_chunk__init($0)
                $0.pointee.text = arena.string(chunk.text)
                $0.pointee.n_tokens = chunk.tokens.count
                $0.pointee.tokens = arena.array(chunk.tokens)
                let logprobs = chunk.logprobs.map { $0.build(arena) }
                $0.pointee.n_logprobs = logprobs.count
                $0.pointee.logprobs = arena.pointers(logprobs)
            }
        case .summary(let summary):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_SUMMARY
            m.pointee.summary = summary.build(arena)
        case .tokenize(let reply):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_TOKENIZE
            m.pointee.tokenize = arena.message {
                moed__v1__tokenize_reply__init($0)
                $0.pointee.n_tokens = reply.tokens.count
                $0.pointee.tokens = arena.array(reply.tokens)
                $0.pointee.n_pieces = reply.pieces.count
                $0.pointee.pieces = arena.array(reply.pieces.map { arena.bytes($0) })
            }
        case .stats(let tiers):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_STATS
            m.pointee.stats = arena.message {
                moed__v1__stats_reply__init($0)
                $0.pointee.n_tiers = tiers.count
                $0.pointee.tiers = arena.pointers(tiers.map { $0.build(arena) })
            }
        case .reload(let reply):
            m.pointee.result_case = MOED__V1__RESPONSE__RESULT_RELOAD
            m.pointee.reload = arena.message {
                moed__v1__reload_reply__init($0)
                $0.pointee.config_path = arena.string(reply.configPath)
                $0.pointee.default_tier = arena.string(reply.defaultTier)
                $0.pointee.n_tiers = reply.tiers.count
                $0.pointee.tiers = arena.strings(reply.tiers)
            }
        }
    }
}

extension TierStatus {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__TierStatus> {
        arena.message { (t: UnsafeMutablePointer<Moed__V1__TierStatus>) in
            moed__v1__tier_status__init(t)
            t.pointee.name = arena.string(name)
            t.pointee.plugin = arena.string(plugin)
            t.pointee.model = arena.string(model)
            t.pointee.has_state = 1
            t.pointee.state = Moed__V1__TierState(rawValue: UInt32(state.rawValue))
            t.pointee.has_is_default = 1
            t.pointee.is_default = isDefault ? 1 : 0
            t.pointee.has_pinned = 1
            t.pointee.pinned = isPinned ? 1 : 0
            t.pointee.has_memory_bytes = 1
            t.pointee.memory_bytes = memoryBytes
            t.pointee.has_active_requests = 1
            t.pointee.active_requests = activeRequests
            t.pointee.has_queued_requests = 1
            t.pointee.queued_requests = queuedRequests
            t.pointee.last_error = arena.string(lastError)
            t.pointee.has_context = 1
            t.pointee.context = context
            t.pointee.has_keep_alive_seconds = 1
            t.pointee.keep_alive_seconds = keepAliveSeconds
            t.pointee.has_idle_seconds = 1
            t.pointee.idle_seconds = idleSeconds
            t.pointee.has_load_progress = 1
            t.pointee.load_progress = loadProgress
            t.pointee.has_cached_sequences = 1  // prefix11
            t.pointee.cached_sequences = cachedSequences
            t.pointee.has_cached_bytes = 1
            t.pointee.cached_bytes = cachedBytes
            memory.encode(into: t, arena)
            t.pointee.remote_url = arena.string(remoteURL)  // remote13
        }
    }
}

extension StatusReply {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__StatusReply> {
        arena.message { (s: UnsafeMutablePointer<Moed__V1__StatusReply>) in
            moed__v1__status_reply__init(s)
            s.pointee.has_pid = 1
            s.pointee.pid = pid
            s.pointee.version = arena.string(version)
            s.pointee.default_tier = arena.string(defaultTier)
            s.pointee.has_uptime_seconds = 1
            s.pointee.uptime_seconds = uptimeSeconds
            s.pointee.config_path = arena.string(configPath)
            s.pointee.socket = arena.string(socket)
            s.pointee.has_memory_budget = 1
            s.pointee.memory_budget = memoryBudget
            s.pointee.has_memory_used = 1
            s.pointee.memory_used = memoryUsed
            s.pointee.has_memory_held = 1
            s.pointee.memory_held = memoryHeld
            s.pointee.has_memory_reserved = 1
            s.pointee.memory_reserved = memoryReserved
            s.pointee.has_connections = 1
            s.pointee.connections = connections
            s.pointee.n_tiers = tiers.count
            s.pointee.tiers = arena.pointers(tiers.map { $0.build(arena) })
        }
    }
}

extension PluginInfo {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__PluginInfo> {
        arena.message { (p: UnsafeMutablePointer<Moed__V1__PluginInfo>) in
            moed__v1__plugin_info__init(p)
            p.pointee.name = arena.string(name)
            p.pointee.path = arena.string(path)
            p.pointee.version = arena.string(version)
            p.pointee.has_loaded = 1
            p.pointee.loaded = isLoaded ? 1 : 0
            p.pointee.error = arena.string(error)
        }
    }
}

extension GenerateSummary {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__GenerateSummary> {
        arena.message { (s: UnsafeMutablePointer<Moed__V1__GenerateSummary>) in
            moed__v1__generate_summary__init(s)
            s.pointee.tier = arena.string(tier)
            s.pointee.has_prompt_tokens = 1
            s.pointee.prompt_tokens = promptTokens
            s.pointee.has_completion_tokens = 1
            s.pointee.completion_tokens = completionTokens
            s.pointee.finish_reason = arena.string(finishReason)
            s.pointee.has_prompt_seconds = 1
            s.pointee.prompt_seconds = promptSeconds
            s.pointee.has_generation_seconds = 1
            s.pointee.generation_seconds = generationSeconds
            s.pointee.has_queue_seconds = 1
            s.pointee.queue_seconds = queueSeconds
            s.pointee.n_prompt_token_ids = promptTokenIDs.count
            s.pointee.prompt_token_ids = arena.array(promptTokenIDs)
            s.pointee.has_context_shifts = 1
            s.pointee.context_shifts = contextShifts
            s.pointee.has_cached_prompt_tokens = 1  // prefix11
            s.pointee.cached_prompt_tokens = cachedPromptTokens
        }
    }
}

extension GenerateChunk.TokenLogprob {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__GenerateChunk__TokenLogprob> {
        arena.message { (l: UnsafeMutablePointer<Moed__V1__GenerateChunk__TokenLogprob>) in
            moed__v1__generate_chunk__token_logprob__init(l)
            l.pointee.has_token = 1
            l.pointee.token = token
            l.pointee.has_logprob = 1
            l.pointee.logprob = logprob
            l.pointee.has_piece = 1
            l.pointee.piece = arena.bytes(piece)
            let alternatives = top.map { $0.build(arena) }
            l.pointee.n_top = alternatives.count
            l.pointee.top = arena.pointers(alternatives)
        }
    }
}

extension TierStats {
    func build(_ arena: Arena) -> UnsafeMutablePointer<Moed__V1__TierStats> {
        arena.message { (s: UnsafeMutablePointer<Moed__V1__TierStats>) in
            moed__v1__tier_stats__init(s)
            s.pointee.name = arena.string(name)
            s.pointee.has_requests = 1
            s.pointee.requests = requests
            s.pointee.has_failed_requests = 1
            s.pointee.failed_requests = failedRequests
            s.pointee.has_prompt_tokens = 1
            s.pointee.prompt_tokens = promptTokens
            s.pointee.has_completion_tokens = 1
            s.pointee.completion_tokens = completionTokens
            s.pointee.has_generation_seconds = 1
            s.pointee.generation_seconds = generationSeconds
            s.pointee.has_layers = 1
            s.pointee.layers = layers
            s.pointee.has_experts = 1
            s.pointee.experts = experts
            s.pointee.n_expert_counts = expertCounts.count
            s.pointee.expert_counts = arena.array(expertCounts)
            s.pointee.n_routing_entropy = routingEntropy.count
            s.pointee.routing_entropy = arena.array(routingEntropy)
            s.pointee.has_cached_prompt_tokens = 1  // prefix11
            s.pointee.cached_prompt_tokens = cachedPromptTokens
            s.pointee.has_prefix_cache_hits = 1
            s.pointee.prefix_cache_hits = prefixCacheHits
            s.pointee.n_latency_bounds = firstToken.bounds.count
            s.pointee.latency_bounds = arena.array(firstToken.bounds)
            s.pointee.n_first_token_buckets = firstToken.counts.count
            s.pointee.first_token_buckets = arena.array(firstToken.counts)
            s.pointee.has_first_token_seconds_sum = 1
            s.pointee.first_token_seconds_sum = firstToken.sum
            s.pointee.n_token_latency_buckets = tokenLatency.counts.count
            s.pointee.token_latency_buckets = arena.array(tokenLatency.counts)
            s.pointee.has_token_latency_seconds_sum = 1
            s.pointee.token_latency_seconds_sum = tokenLatency.sum
            s.pointee.has_loads = 1
            s.pointee.loads = loads
            s.pointee.has_evictions = 1
            s.pointee.evictions = evictions
            s.pointee.has_load_failures = 1
            s.pointee.load_failures = loadFailures
            s.pointee.has_kv_cache_peak_bytes = 1
            s.pointee.kv_cache_peak_bytes = kvCachePeakBytes
            s.pointee.has_memory_refusals = 1
            s.pointee.memory_refusals = memoryRefusals
        }
    }
}

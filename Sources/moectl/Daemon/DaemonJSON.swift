import MoeAPI

// The --json shapes of the daemon verbs: snake_case keys, as in the proto.

struct TierJSON: Encodable {
    var name, plugin, model, state: String
    var is_default, pinned: Bool
    var memory_bytes: UInt64
    var active_requests, queued_requests, context: UInt32
    var last_error: String
    var keep_alive_seconds, idle_seconds: Double
    var load_progress: Float
    var cached_sequences: UInt32
    var cached_bytes: UInt64
    var weight_bytes, kv_cache_bytes, scratch_bytes, kv_reserved_bytes, prefix_cache_bytes: UInt64
    var kv_type: String
    var remote_url: String

    init(_ t: TierStatus) {
        name = t.name; plugin = t.plugin; model = t.model; state = t.state.name
        is_default = t.isDefault; pinned = t.isPinned; memory_bytes = t.memoryBytes
        active_requests = t.activeRequests; queued_requests = t.queuedRequests; context = t.context
        last_error = t.lastError; keep_alive_seconds = t.keepAliveSeconds; idle_seconds = t.idleSeconds
        load_progress = t.loadProgress
        cached_sequences = t.cachedSequences; cached_bytes = t.cachedBytes
        let m = t.memory
        weight_bytes = m.weightBytes; kv_cache_bytes = m.kvCacheBytes; scratch_bytes = m.scratchBytes
        kv_reserved_bytes = m.kvReservedBytes; prefix_cache_bytes = m.prefixCacheBytes; kv_type = m.kvType
        remote_url = t.remoteURL
    }
}

struct TiersJSON: Encodable {
    var default_tier: String
    var tiers: [TierJSON]
}

struct StatusJSON: Encodable {
    var pid: UInt32
    var version, default_tier, config_path, socket: String
    var uptime_seconds: Double
    var memory_budget, memory_used, memory_held, memory_reserved: UInt64
    var connections: UInt32
    var tiers: [TierJSON]

    init(_ s: StatusReply) {
        pid = s.pid; version = s.version; default_tier = s.defaultTier; config_path = s.configPath
        socket = s.socket; uptime_seconds = s.uptimeSeconds; memory_budget = s.memoryBudget
        memory_used = s.memoryUsed; memory_held = s.memoryHeld; memory_reserved = s.memoryReserved
        connections = s.connections; tiers = s.tiers.map(TierJSON.init)
    }
}

struct PluginJSON: Encodable {
    var name, path, version, error: String
    var loaded: Bool
    init(_ p: PluginInfo) {
        name = p.name; path = p.path; version = p.version; error = p.error; loaded = p.isLoaded
    }
}

struct StatsJSON: Encodable {
    var name: String
    var requests, failed_requests, prompt_tokens, completion_tokens: UInt64
    var generation_seconds, tokens_per_second: Double
    var layers, experts: UInt32
    var expert_counts: [UInt64]
    /// Per layer: entropy in bits of the picks over the experts (see `loadEntropy`).
    var expert_load_entropy: [Double]
    /// Per layer: mean entropy (nats) of the router's distribution per token.
    var routing_entropy: [Double]
    /// Prompt tokens continued from cached prefixes, and the requests that did.
    var cached_prompt_tokens, prefix_cache_hits: UInt64
    var kv_cache_peak_bytes, memory_refusals: UInt64
    init(_ s: TierStats) {
        name = s.name; requests = s.requests; failed_requests = s.failedRequests; prompt_tokens = s.promptTokens
        completion_tokens = s.completionTokens; generation_seconds = s.generationSeconds
        tokens_per_second = s.tokensPerSecond; layers = s.layers; experts = s.experts; expert_counts = s.expertCounts
        expert_load_entropy = s.expertLayers.map(loadEntropy)
        routing_entropy = s.routingEntropy
        cached_prompt_tokens = s.cachedPromptTokens; prefix_cache_hits = s.prefixCacheHits
        kv_cache_peak_bytes = s.kvCachePeakBytes; memory_refusals = s.memoryRefusals
    }
}

struct ReloadJSON: Encodable {
    var config_path: String
    var tiers: [String]
    var default_tier: String
}

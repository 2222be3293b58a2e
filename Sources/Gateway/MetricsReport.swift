import MoeAPI

/// `GET /metrics`: moed's status and stats as Prometheus metrics, plus the
/// gateway's own counters. Read fresh from moed on every scrape.
struct MetricsReport {
    var status: StatusReply?
    var stats: [TierStats]
    var gateway: GatewayCounters.Snapshot

    func render() -> String {
        var out = MetricsText()
        out.family("moed_up", "gauge", "1 when moegate reached moed for this scrape.", [([], status == nil ? 0 : 1)])
        out.family("moegate_completions_total", "counter", "Completions moegate answered in full.", [([], Double(gateway.completions))])
        out.family("moegate_completion_failures_total", "counter", "Completions that ended in an error (moed's or the client's).",
                   [([], Double(gateway.failures))])
        out.family("moegate_unauthorized_total", "counter", "Requests refused for a missing or unknown API key.",
                   [([], Double(gateway.unauthorized))])
        if let status { renderStatus(status, into: &out) }
        renderStats(into: &out)
        return out.text
    }

    private func renderStatus(_ status: StatusReply, into out: inout MetricsText) {
        out.family("moed_uptime_seconds", "gauge", "Seconds since moed started.", [([], status.uptimeSeconds)])
        out.family("moed_memory_budget_bytes", "gauge", "Memory moed may give to loaded tiers.", [([], Double(status.memoryBudget))])
        out.family("moed_memory_used_bytes", "gauge", "Memory held by loaded tiers.", [([], Double(status.memoryUsed))])
        out.family("moed_connections", "gauge", "Open client connections to moed.", [([], Double(status.connections))])
        let tiers = status.tiers
        out.family("moed_tier_state", "gauge", "1 for the state each tier is in.", tiers.flatMap { tier in
            TierState.allCases.map { state in ([("tier", tier.name), ("state", state.name)], tier.state == state ? 1.0 : 0.0) }
        })
        out.family("moed_tier_memory_bytes", "gauge", "Memory held by the tier's model.",
                   tiers.map { ([("tier", $0.name)], Double($0.memoryBytes)) })
        out.family("moed_tier_active_requests", "gauge", "Requests generating on the tier.",
                   tiers.map { ([("tier", $0.name)], Double($0.activeRequests)) })
        out.family("moed_tier_queued_requests", "gauge", "Requests waiting for the tier.",
                   tiers.map { ([("tier", $0.name)], Double($0.queuedRequests)) })
        out.family("moed_tier_default", "gauge", "1 for the default tier.",
                   tiers.map { ([("tier", $0.name)], $0.isDefault ? 1 : 0) })
    }

    private func counter(_ name: String, _ help: String, _ value: (TierStats) -> Double, into out: inout MetricsText) {
        out.family(name, "counter", help, stats.map { ([("tier", $0.name)], value($0)) })
    }

    private func renderStats(into out: inout MetricsText) {
        counter("moed_tier_requests_total", "Generate requests the tier accepted.", { Double($0.requests) }, into: &out)
        counter("moed_tier_failed_requests_total", "Requests that ended in an error.", { Double($0.failedRequests) }, into: &out)
        counter("moed_tier_prompt_tokens_total", "Prompt tokens processed.", { Double($0.promptTokens) }, into: &out)
        counter("moed_tier_cached_prompt_tokens_total", "Prompt tokens taken from a cached prefix instead of evaluated.",
                { Double($0.cachedPromptTokens) }, into: &out)
        counter("moed_tier_generated_tokens_total", "Tokens generated.", { Double($0.completionTokens) }, into: &out)
        counter("moed_tier_generation_seconds_total", "Seconds spent generating.", { $0.generationSeconds }, into: &out)
        counter("moed_tier_loads_total", "Loads that reached ready.", { Double($0.loads) }, into: &out)
        counter("moed_tier_evictions_total", "Unloads to make room for another tier.", { Double($0.evictions) }, into: &out)
        counter("moed_tier_load_failures_total", "Loads that failed.", { Double($0.loadFailures) }, into: &out)
        out.histogram("moed_tier_time_to_first_token_seconds", "Request arrival to first generated token.",
                      stats.map { ($0.name, $0.firstToken) })
        out.histogram("moed_tier_token_latency_seconds", "Time between consecutive generated tokens of a request.",
                      stats.map { ($0.name, $0.tokenLatency) })
        out.family("moed_tier_expert_load_entropy_nats", "gauge",
                   "Per MoE layer: entropy of the spread of routed tokens over experts (ln(experts) = even).",
                   stats.flatMap(Self.expertEntropySamples))
        out.family("moed_tier_routing_entropy_nats", "gauge", "Per MoE layer: mean entropy of the router's distribution per token.",
                   stats.flatMap { s in s.routingEntropy.enumerated().map { ([("tier", s.name), ("layer", "\($0.offset)")], $0.element) } })
    }

    static func expertEntropySamples(_ s: TierStats) -> [(labels: [(String, String)], value: Double)] {
        let experts = Int(s.experts)
        guard experts > 0, s.expertCounts.count == Int(s.layers) * experts else { return [] }
        return (0..<Int(s.layers)).compactMap { layer in
            let slice = s.expertCounts[(layer * experts)..<((layer + 1) * experts)]
            return expertLoadEntropy(slice).map { ([("tier", s.name), ("layer", "\(layer)")], $0) }
        }
    }
}

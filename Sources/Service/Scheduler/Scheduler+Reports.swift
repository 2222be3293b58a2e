import MoeAPI

extension Scheduler {
    public func tierStatuses() -> [TierStatus] {
        tierOrder.compactMap { tiers[$0] }.filter { !$0.isRetired }.map(status(of:))
    }

    public func stats() -> [TierStats] {
        tierOrder.compactMap { tiers[$0] }.map { tier in
            var s = TierStats()
            let c = tier.counters
            s.name = tier.name
            s.requests = c.requests
            s.failedRequests = c.failedRequests
            s.promptTokens = c.promptTokens
            s.completionTokens = c.completionTokens
            s.generationSeconds = c.generationSeconds
            s.layers = c.layers
            s.experts = c.experts
            s.expertCounts = c.expertCounts
            s.routingEntropy = c.routingEntropy
            s.cachedPromptTokens = c.cachedPromptTokens
            s.prefixCacheHits = c.prefixCacheHits
            s.firstToken = c.firstToken
            s.tokenLatency = c.tokenLatency
            s.loads = c.loads
            s.evictions = c.evictions
            s.loadFailures = c.loadFailures
            s.kvCachePeakBytes = c.kvCachePeakBytes
            s.memoryRefusals = c.memoryRefusals
            return s
        }
    }

    public func pluginReport() -> [PluginInfo] {
        environment.backends.pluginReport(for: configuration.tiers)
    }

    /// Adopts a new, already validated config. Unchanged tiers keep running;
    /// tiers whose model settings changed reload on next use (after their
    /// streams finish); removed tiers drain and disappear; new ones appear.
    public func apply(_ new: Configuration) {
        let old = configuration
        configuration = new
        for settings in new.tiers {
            guard let tier = tiers[settings.name] else {
                addTier(settings)
                continue
            }
            tier.isRetired = false
            let modelChanged = Self.modelSettingsDiffer(tier.settings, settings)
            tier.settings = settings
            applyPrefixCacheLimits(tier)
            if modelChanged && (tier.state == .ready || tier.state == .loading) {
                tier.isStale = true
                if tier.state == .ready { beginDrain(tier) }
            }
        }
        let kept = Set(new.tiers.map(\.name))
        for name in tierOrder where !kept.contains(name) {
            guard let tier = tiers[name] else { continue }
            tier.isRetired = true
            if tier.state == .ready { beginDrain(tier) } else if tier.state == .unloaded || tier.state == .failed {
                tiers[name] = nil
            }
        }
        tierOrder.removeAll { tiers[$0] == nil }
        if tiers[defaultTier] == nil || old.daemon.defaultTier != new.daemon.defaultTier {
            setDefault(new.daemon.defaultTier)
        }
        onChange()
    }

    static func modelSettingsDiffer(_ a: TierSettings, _ b: TierSettings) -> Bool {
        a.plugin != b.plugin || a.model != b.model || a.context != b.context || a.threads != b.threads
            || a.expertsUsed != b.expertsUsed || a.pluginSettings != b.pluginSettings
    }
}

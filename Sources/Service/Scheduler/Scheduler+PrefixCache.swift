/// Prefix reuse as the memory budget sees it. Cached prefixes are the
/// first thing moed gives up when it needs memory: before idle tiers are
/// unloaded, and whenever what the tiers hold passes the budget.
extension Scheduler {
    /// Bytes held by every tier's cached prefixes.
    public var prefixCacheBytes: UInt64 {
        tiers.values.reduce(0) { $0 &+ $1.prefixCacheBytes }
    }

    /// Drops cached prefixes across tiers, least recently used first,
    /// until `target` bytes are freed or none is left; returns the bytes
    /// freed. They stop counting at once; the memory itself returns when
    /// each tier's lane removes the sequences (its next job, started on
    /// the next loop turn if the lane is idle, or the tier's unload).
    @discardableResult
    public func dropCachedPrefixes(toFree target: UInt64) -> UInt64 {
        var freed: UInt64 = 0
        var touched: [Tier] = []
        while freed < target {
            let holders = tiers.values.compactMap { tier in tier.prefixCache?.oldestUse.map { (tier, $0) } }
            guard let (tier, _) = holders.min(by: { $0.1 < $1.1 }) else { break }
            freed &+= tier.dropCachedPrefixes(toFree: 1)  // its oldest entry
            if !touched.contains(where: { $0 === tier }) { touched.append(tier) }
        }
        if freed > 0 { moedLog.notice("dropped \(formatBytes(freed)) of cached prefixes to stay within the memory budget") }
        // On the next loop turn, not now: starting the removal job here
        // would make an idle tier busy, and the caller (a load making
        // room) may be about to unload that very tier.
        environment.executor.post { [weak self] in touched.forEach { self?.pump($0) } }
        return freed
    }

    /// A reload changed the tier's prefix_cache limits: trim to them now.
    func applyPrefixCacheLimits(_ tier: Tier) {
        guard let cache = tier.prefixCache else { return }
        let evicted = cache.setLimits(tier.settings.prefixCache)
        guard !evicted.isEmpty else { return }
        tier.retiredSequences += evicted.map(RetiredSequence.remove)
        pump(tier)
    }
}

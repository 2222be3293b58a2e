import Foundation
import ArgumentParser
import MoeAPI
import MoeClient

/// `moectl status`: the daemon and its tiers at a glance.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show moed's state.")
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let reply = try daemon.withClient { client -> StatusReply in
            guard case .status(let s) = try client.call(.status).result else { throw ClientError.connectionLost("no status") }
            return s
        }
        if daemon.json { return try printJSON(StatusJSON(reply)) }
        print("moed \(reply.version), pid \(reply.pid), up \(Int(reply.uptimeSeconds)) s")
        // Empty for peers that are not admins: moed shows them no paths.
        if !reply.socket.isEmpty || !reply.configPath.isEmpty { print("socket \(reply.socket), config \(reply.configPath)") }
        print("memory \(formatBytes(reply.memoryUsed)) of \(formatBytes(reply.memoryBudget)) " +
              "(held \(formatBytes(reply.memoryHeld)), reserved \(formatBytes(reply.memoryReserved))); \(reply.connections) connection(s)")
        print("default tier: \(reply.defaultTier)")
        printTiers(reply.tiers)
    }
}

/// `moectl tiers`: the configured tiers and their states.
struct TiersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tiers", abstract: "List moed's tiers.")
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let reply = try daemon.withClient { client -> TiersReply in
            guard case .tiers(let t) = try client.call(.tiers).result else { throw ClientError.connectionLost("no tiers") }
            return t
        }
        if daemon.json { return try printJSON(TiersJSON(default_tier: reply.defaultTier, tiers: reply.tiers.map(TierJSON.init))) }
        printTiers(reply.tiers)
    }
}

func printTiers(_ tiers: [TierStatus]) {
    for t in tiers {
        let mark = t.isDefault ? "*" : " "
        var line = "\(mark) \(t.name)\t\(t.state.name)\t\(t.plugin)\t\(formatBytes(t.memoryBytes))\tactive \(t.activeRequests) queued \(t.queuedRequests)"
        if t.isPinned { line += "\tpinned" }
        if t.cachedSequences > 0 { line += "\tcached prefixes \(t.cachedSequences) (\(formatBytes(t.cachedBytes)))" }
        if !t.lastError.isEmpty { line += "\terror: \(t.lastError)" }
        print(line)
        if !t.remoteURL.isEmpty {
            print("    remote \(t.remoteURL) model \(t.model)")
        } else if !t.model.isEmpty {
            print("    model \(t.model)")
        }
        if t.memoryBytes > 0 { print("    memory \(memoryBreakdown(t.memory))") }
    }
}

/// "weights 93.8 MiB, KV f16 12.0 MiB (reserved 45.0 MiB), scratch 48.2 MiB".
func memoryBreakdown(_ m: TierMemoryFigures) -> String {
    var text = "weights \(formatBytes(m.weightBytes)), KV \(m.kvType) \(formatBytes(m.kvCacheBytes))"
    if m.kvReservedBytes > 0 { text += " (reserved \(formatBytes(m.kvReservedBytes)))" }
    if m.prefixCacheBytes > 0 { text += ", cached prefixes \(formatBytes(m.prefixCacheBytes))" }
    return text + ", scratch \(formatBytes(m.scratchBytes))"
}

/// `moectl plugins`: which backend plugins the tiers use and whether they load.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plugins", abstract: "List backend plugins.")
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let plugins = try daemon.withClient { client -> [PluginInfo] in
            guard case .plugins(let p) = try client.call(.plugins).result else { throw ClientError.connectionLost("no plugins") }
            return p
        }
        if daemon.json { return try printJSON(plugins.map(PluginJSON.init)) }
        for p in plugins {
            let state = p.isLoaded ? "loaded \(p.version)" : (p.error.isEmpty ? "not loaded" : "error: \(p.error)")
            print("\(p.name)\t\(p.path.isEmpty ? "(not found)" : p.path)\t\(state)")
        }
    }
}

/// `moectl stats`: per-tier counters and MoE expert usage.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show per-tier request and expert statistics.")
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let stats = try daemon.withClient { client -> [TierStats] in
            guard case .stats(let s) = try client.call(.stats).result else { throw ClientError.connectionLost("no stats") }
            return s
        }
        if daemon.json { return try printJSON(stats.map(StatsJSON.init)) }
        for s in stats {
            print("\(s.name): \(s.requests) requests (\(s.failedRequests) failed), \(s.promptTokens) prompt + \(s.completionTokens) generated tokens, \(String(format2(s.tokensPerSecond))) tokens/s")
            if s.prefixCacheHits > 0 {
                print("  prefix reuse: \(s.cachedPromptTokens) prompt tokens continued from cached prefixes in \(s.prefixCacheHits) requests")
            }
            if s.kvCachePeakBytes > 0 || s.memoryRefusals > 0 || s.evictions > 0 {
                print("  memory: KV peak \(formatBytes(s.kvCachePeakBytes)), \(s.memoryRefusals) held back or refused, evicted \(s.evictions) times")
            }
            let layers = s.expertLayers
            guard !layers.isEmpty else { continue }
            print("  per layer: picks per expert; load entropy of the picks (bits, balanced = \(format2(log2(Double(s.experts)))));"
                  + " mean routing entropy per token (nats, undecided router = \(format2(log(Double(s.experts))))):")
            for (layer, row) in layers.enumerated() {
                let routing = layer < s.routingEntropy.count ? format2(s.routingEntropy[layer]) : "?"
                print("  layer \(layer): " + row.map(String.init).joined(separator: " ")
                      + "  load H=\(format2(loadEntropy(row)))  routing H=\(routing)")
            }
        }
    }
}

extension TierStats {
    /// The router's pick counts, one row of experts per layer (empty for dense tiers).
    var expertLayers: [[UInt64]] {
        guard experts > 0, layers > 0, expertCounts.count == Int(layers * experts) else { return [] }
        return (0..<Int(layers)).map { Array(expertCounts[$0 * Int(experts) ..< ($0 + 1) * Int(experts)]) }
    }
}

/// Entropy in bits of how a layer's picks spread over its experts: log2(N)
/// when every expert is picked equally often, 0 when one takes all.
func loadEntropy(_ counts: [UInt64]) -> Double {
    let total = Double(counts.reduce(0, +))
    guard total > 0 else { return 0 }
    return counts.reduce(0.0) { h, c in
        let p = Double(c) / total
        return p > 0 ? h - p * log2(p) : h
    }
}

func format2(_ value: Double) -> String {
    "\((value * 100).rounded() / 100)"
}

/// `moectl reload`: re-read the config; a bad one is refused and the running one kept.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reload", abstract: "Make moed re-read its config.")
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let reply = try daemon.withClient { client -> ReloadReply in
            guard case .reload(let r) = try client.call(.reload).result else { throw ClientError.connectionLost("no reload reply") }
            return r
        }
        if daemon.json {
            return try printJSON(ReloadJSON(config_path: reply.configPath, tiers: reply.tiers, default_tier: reply.defaultTier))
        }
        print("reloaded \(reply.configPath): tiers \(reply.tiers.joined(separator: ", ")); default \(reply.defaultTier)")
    }
}

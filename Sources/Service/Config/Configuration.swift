import GenerationCore
import PluginHost

/// The daemon's settings, from the `[daemon]` table.
public struct DaemonSettings: Equatable, Sendable {
    public var socketPath = "/run/moed/moed.sock"
    public var socketMode: UInt32 = 0o660
    public var pluginDirectories = ["/usr/lib/moed/plugins"]
    /// Load plugins whose file or directory is writable by others or owned
    /// by another user (`allow_untrusted_plugins`); see `FileTrust`.
    public var allowsUntrustedPlugins = false
    /// nil: a fraction of physical memory, decided at start.
    public var memoryBudget: UInt64?
    public var threads = 0
    public var defaultTier = ""
    /// Requests waiting for a tier, all tiers together, before RESOURCE_EXHAUSTED.
    public var maxQueue = 64
    /// Sequences a tier evaluates together per step.
    public var maxBatch = 8
    public var maxFrameBytes = 16 << 20
    /// Reply bytes queued for one client before moed stops reading it.
    public var maxQueuedReplyBytes = 4 << 20
    /// Seconds a client may stay over that cap before it is closed.
    public var slowClientTimeout = 30.0
    /// Seconds a connection with no call in flight may stay silent; nil: never closed.
    public var idleTimeout: Double? = 3600
    /// Open connections per peer uid; the next one gets RESOURCE_EXHAUSTED.
    public var maxConnectionsPerUID = 256
    /// Group (name or gid) whose members may load, unload, use and reload;
    /// nil: only root and moed's own user.
    public var adminGroup: String?
    /// Least severe message logged: trace, debug, info, notice, warning, error or critical.
    public var logLevel = "info"
    public init() {}
}

/// One `[tiers.NAME]` table.
public struct TierSettings: Equatable, Sendable {
    public var name: String
    public var plugin: String
    public var model: String
    public var context = 2048
    public var threads = 0
    public var expertsUsed = 0
    /// Element type of the KV cache.
    public var kvType = KVCacheKind.standard
    /// Seconds idle before unloading; nil: never.
    public var keepAlive: Double? = 300
    public var isPinned = false
    /// What a request that names nothing gets: GenerationCore's defaults
    /// (the same as `moectl run`'s) unless the tier's keys say otherwise.
    public var generation = GenerationOptions()
    /// `seed = "random"`: a request without a seed gets a fresh one.
    public var isSeedRandom = false
    /// Finished sequences kept for prefix reuse (`prefix_cache`, `prefix_cache_bytes`).
    public var prefixCache = PrefixCacheLimits()
    /// Keys only the tier's plugin reads, handed to it at open
    /// (`moe_open_params.settings`): a remote tier's `url`,
    /// `remote_model`, `api_key_file` and `timeout`.
    public var pluginSettings: [PluginSetting] = []

    /// A remote tier's upstream (`url`), or nil for a local one.
    public var remoteURL: String? { pluginSettings.first { $0.key == "url" }?.value }

    public init(name: String, plugin: String, model: String) {
        self.name = name
        self.plugin = plugin
        self.model = model
    }
}

/// A whole, validated config file.
public struct Configuration: Equatable, Sendable {
    public var path: String
    public var daemon: DaemonSettings
    /// In file order.
    public var tiers: [TierSettings]

    public init(path: String, daemon: DaemonSettings, tiers: [TierSettings]) {
        self.path = path
        self.daemon = daemon
        self.tiers = tiers
    }

    public func tier(named name: String) -> TierSettings? {
        tiers.first { $0.name == name }
    }
}

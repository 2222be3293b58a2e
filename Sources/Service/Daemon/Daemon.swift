import MoeAPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// moed itself: the loop, the socket, the scheduler, signals and systemd.
///
/// Lifecycle: `start()` binds and listens (READY=1); SIGHUP or a reload
/// call re-reads the config (a bad one is refused, the running one kept);
/// SIGTERM stops listening, lets accepted calls finish, unloads every
/// model, closes every handle, and `run()` returns.
public final class Daemon {
    public static let version = "0.1.0"

    let loop: EventLoop
    let scheduler: Scheduler
    let backends: PluginBackends
    private let loopQueue: AsyncQueue
    private let keepAliveTimer: LoopTimer
    private var server: UnixSocketServer?
    private var signals: [SignalWatcher] = []
    private var configuration: Configuration
    private let startedAt: Double
    private var isStopping = false
    private var lastStatus = ""
    /// The socket path, or how the listening socket was inherited.
    private var listeningOn: String
    let router: RequestRouter
    /// Who is an admin and which paths non-admins must not see; shared with every connection.
    let access = AccessControl()
    /// Searched after the configured plugin_dir (the build folder in development).
    private let extraDirectories: [String]
    /// moed's `--allow-untrusted-config`: reloads accept a config others can write.
    private let allowsUntrustedConfig: Bool

    public init(configuration: Configuration, extraPluginDirectories: [String] = [],
                allowingUntrustedConfig: Bool = false) throws {
        self.configuration = configuration
        self.extraDirectories = extraPluginDirectories
        self.allowsUntrustedConfig = allowingUntrustedConfig
        self.listeningOn = configuration.daemon.socketPath
        configuration.daemon.applyLogLevel()
        loop = try EventLoop()
        loopQueue = try AsyncQueue(loop: loop)
        keepAliveTimer = try LoopTimer(loop: loop)
        let settings = configuration.daemon
        let directories = settings.pluginDirectories + extraPluginDirectories
        backends = PluginBackends(directories: directories, allowingUntrusted: settings.allowsUntrustedPlugins,
                                  threads: { settings.threads > 0 ? settings.threads : Daemon.processorCount })
        let executor = DispatchExecutor(loopQueue: loopQueue)
        scheduler = Scheduler(configuration: configuration, environment: SchedulerEnvironment(
            now: Daemon.monotonicSeconds, backends: backends, executor: executor, physicalMemory: Daemon.physicalMemory))
        startedAt = Daemon.monotonicSeconds()
        router = RequestRouter(scheduler: scheduler)
        router.daemon = self
        scheduler.onChange = { [weak self] in self?.rearmKeepAlive() }
    }

    /// Listens (on the socket systemd passed, or the configured path) and
    /// installs signal handlers.
    public func start() throws {
        let settings = configuration.daemon
        try applyAccess(configuration)
        let limits = ConnectionLimits(settings)
        if let fd = Systemd.activatedSocket() {
            server = try UnixSocketServer(loop: loop, listeningDescriptor: fd, limits: limits, access: access)
            listeningOn = "fd \(fd) from systemd (socket activation)"
        } else {
            server = try UnixSocketServer(loop: loop, path: settings.socketPath, mode: settings.socketMode,
                                          limits: limits, access: access)
        }
        server?.delegate = router
        signals = [
            try SignalWatcher(loop: loop, signal: SIGTERM) { [weak self] in self?.stop() },
            try SignalWatcher(loop: loop, signal: SIGINT) { [weak self] in self?.stop() },
            try SignalWatcher(loop: loop, signal: SIGHUP) { [weak self] in _ = self?.reload() },
        ]
        scheduler.loadPinnedTiers()
        moedLog.notice("listening on \(listeningOn) (pid \(getpid()), default tier \(scheduler.defaultTier))")
        lastStatus = "STATUS=serving; default tier \(scheduler.defaultTier)"
        Systemd.notify("READY=1\n\(lastStatus)\nMAINPID=\(getpid())")
    }

    /// Runs the loop until shutdown completes.
    public func run() {
        loop.run()
    }

    /// Begins a graceful stop (SIGTERM): refuse new work, finish running
    /// calls, unload models, close everything.
    public func stop() {
        guard !isStopping else { return }
        isStopping = true
        moedLog.notice("stopping: draining in-flight requests")
        Systemd.notify("STOPPING=1\nSTATUS=draining")
        scheduler.beginShutdown()
        server?.stopListening()
        continueStopping()
    }

    /// Each scheduler change re-checks whether the stop can go on; no polling.
    private func continueStopping() {
        guard isStopping else { return }
        if scheduler.isQuiet { scheduler.unloadAll() }
        guard scheduler.isQuiet, scheduler.isFullyUnloaded else { return }
        moedLog.notice("stopped")
        server?.close()
        server = nil
        // Watchers stay until here, so a repeated SIGTERM during the drain
        // is absorbed instead of killing the daemon mid-stream.
        signals.forEach { $0.close() }
        signals = []
        // Closing a watcher restores the default action; the daemon is
        // exiting now, so a later SIGTERM (systemd's or a script's second)
        // must not turn a clean exit 0 into death by signal. (Under TSan the
        // exit path is slow enough for a test's second SIGTERM to land here.)
        Glibc.signal(SIGTERM, SIG_IGN)
        Glibc.signal(SIGINT, SIG_IGN)
        keepAliveTimer.close()
        loopQueue.close()
    }

    /// Re-reads the config file. A bad file changes nothing.
    public func reload() -> Result<Configuration, ConfigError> {
        do {
            let fresh = try Configuration.load(path: configuration.path, allowingUntrustedFile: allowsUntrustedConfig)
            try applyAccess(fresh)
            if let server {  // for connections accepted from now on; the frame size stays until restart
                var limits = ConnectionLimits(fresh.daemon)
                limits.maximumFrameSize = server.limits.maximumFrameSize
                server.limits = limits
            }
            configuration = fresh
            fresh.daemon.applyLogLevel()
            backends.setDirectories(fresh.daemon.pluginDirectories + extraDirectories,
                                    allowingUntrusted: fresh.daemon.allowsUntrustedPlugins)
            scheduler.apply(fresh)
            moedLog.notice("reloaded \(fresh.path): tiers \(fresh.tiers.map(\.name).joined(separator: ", "))")
            announceStatus()
            return .success(fresh)
        } catch let error as ConfigError {
            moedLog.error("reload refused, keeping the running config: \(error)")
            return .failure(error)
        } catch {
            return .failure(ConfigError(path: configuration.path, line: nil, key: nil, message: "\(error)"))
        }
    }

    /// Resolves admin_group and collects the paths to hide from non-admins.
    private func applyAccess(_ configuration: Configuration) throws {
        let policy: AccessPolicy
        do {
            policy = try AccessPolicy(adminGroupNamed: configuration.daemon.adminGroup)
        } catch {
            throw ConfigError(path: configuration.path, line: nil, key: "admin_group", message: "\(error)")
        }
        access.update(policy: policy, redactor: PathRedactor(
            knownPaths: configuration.privatePaths(extraPluginDirectories: extraDirectories)))
    }

    /// Tells systemd the default tier, only when it changed: sd_notify
    /// blocks if the notify socket's queue is full, so it is not chatty.
    private func announceStatus() {
        let status = "STATUS=serving; default tier \(scheduler.defaultTier)"
        guard status != lastStatus else { return }
        lastStatus = status
        Systemd.notify(status)
    }

    private func rearmKeepAlive() {
        announceStatus()
        if isStopping { return continueStopping() }
        guard let seconds = scheduler.nextKeepAliveDeadline() else { return keepAliveTimer.stop() }
        // A millisecond late, so the deadline has surely passed when it fires.
        keepAliveTimer.start(afterSeconds: seconds + 0.001) { [weak self] in
            self?.scheduler.expireIdleTiers()
            self?.rearmKeepAlive()
        }
    }

    func statusReply() -> StatusReply {
        var reply = StatusReply()
        reply.pid = UInt32(getpid())
        reply.version = Daemon.version
        reply.defaultTier = scheduler.defaultTier
        reply.uptimeSeconds = Daemon.monotonicSeconds() - startedAt
        reply.configPath = configuration.path
        reply.socket = listeningOn
        reply.memoryBudget = scheduler.memoryBudget
        // Each figure read once: a tier's cached prefixes change on its lane
        // between two reads, and a second read of `memoryUsed` smaller than
        // the first made this subtraction underflow (found by the frames fuzzer).
        let used = scheduler.memoryUsed, held = scheduler.memoryHeld
        reply.memoryUsed = used
        reply.memoryHeld = held
        reply.memoryReserved = used - min(used, held)
        reply.connections = UInt32(server?.connections.count ?? 0)
        reply.tiers = scheduler.tierStatuses()
        return reply
    }

    // MARK: injected effects, real versions

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func physicalMemory() -> UInt64 {
        UInt64(max(sysconf(Int32(_SC_PHYS_PAGES)), 0)) * UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 0))
    }

    static var processorCount: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }
}

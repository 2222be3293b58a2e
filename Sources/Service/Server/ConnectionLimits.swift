/// What one client may hold, from `[daemon]`, in the units the loop uses.
/// A reload changes the limits of connections accepted after it.
public struct ConnectionLimits: Equatable, Sendable {
    public var maximumFrameSize: Int
    /// Replies queued for a client before moed stops reading its requests.
    public var maxQueuedReplyBytes: Int
    /// How long a client may stay paused over that cap before it is closed.
    public var slowClientTimeoutMilliseconds: UInt64
    /// Silence (no call in flight, no byte received) before closing; nil: never.
    public var idleTimeoutMilliseconds: UInt64?
    public var maxConnectionsPerUID: Int

    public init(maximumFrameSize: Int = 16 << 20, maxQueuedReplyBytes: Int = 4 << 20,
                slowClientTimeoutMilliseconds: UInt64 = 30_000, idleTimeoutMilliseconds: UInt64? = 3_600_000,
                maxConnectionsPerUID: Int = 256) {
        self.maximumFrameSize = maximumFrameSize
        self.maxQueuedReplyBytes = maxQueuedReplyBytes
        self.slowClientTimeoutMilliseconds = slowClientTimeoutMilliseconds
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.maxConnectionsPerUID = maxConnectionsPerUID
    }

    public init(_ settings: DaemonSettings) {
        self.init(maximumFrameSize: settings.maxFrameBytes, maxQueuedReplyBytes: settings.maxQueuedReplyBytes,
                  slowClientTimeoutMilliseconds: Self.milliseconds(settings.slowClientTimeout),
                  idleTimeoutMilliseconds: settings.idleTimeout.map(Self.milliseconds),
                  maxConnectionsPerUID: settings.maxConnectionsPerUID)
    }

    /// Reading resumes once the queue has drained to half the cap, so a
    /// client hovering at the cap does not flip reading on and off per reply.
    var resumeBelowBytes: Int { maxQueuedReplyBytes / 2 }

    /// Whole milliseconds, at least 1. The config reader already bounds
    /// durations; the clamp keeps a timer from ever seeing NaN or a product
    /// that overflows UInt64 (which would trap).
    static func milliseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        return UInt64(min(seconds, 1e9) * 1000) + 1
    }
}

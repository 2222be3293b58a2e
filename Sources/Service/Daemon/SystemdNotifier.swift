import CSystemd

/// sd_notify and socket activation. Both are no-ops outside systemd
/// (no NOTIFY_SOCKET, no LISTEN_FDS), so the daemon calls them always.
public enum Systemd {
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// The first listening descriptor systemd passed, if any.
    public static func activatedSocket() -> Int32? {
        let count = sd_listen_fds(1)
        return count >= 1 ? SD_LISTEN_FDS_START : nil
    }
}

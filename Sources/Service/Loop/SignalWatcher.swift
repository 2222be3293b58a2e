import CLibUV
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Delivers a Unix signal on the loop thread.
public final class SignalWatcher {
    private let handle: UnsafeMutablePointer<uv_signal_t>
    private let action: () -> Void
    private var isClosed = false

    public init(loop: EventLoop, signal number: Int32, _ action: @escaping () -> Void) throws {
        self.action = action
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_signal_t())
        try LoopError.check(uv_signal_init(loop.raw, handle), "uv_signal_init")
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
        try LoopError.check(uv_signal_start(handle, { signal, _ in
            owner(ofHandle: signal, as: SignalWatcher.self)?.action()
        }, number), "uv_signal_start")
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        closeHandle(handle)
    }

    /// What a daemon does first: ignore SIGPIPE (a client hanging up
    /// mid-write must not kill us), contain SIGBUS from a truncated model
    /// file (`FaultGuard`), and clear the inherited signal mask (a parent
    /// may have blocked SIGTERM, hiding it from libuv).
    public static func prepareProcess() {
        signal(SIGPIPE, SIG_IGN)
        if !FaultGuard.install() { moedLog.error("cannot install the SIGBUS guard: a truncated model file would stop moed") }
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
    }
}

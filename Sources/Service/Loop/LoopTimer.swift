import CLibUV

/// A one-shot or repeating timer on the loop.
public final class LoopTimer {
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var action: () -> Void = {}
    private var isClosed = false

    public init(loop: EventLoop) throws {
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_timer_t())
        let status = uv_timer_init(loop.raw, handle)
        guard status == 0 else {
            handle.deallocate()
            throw LoopError(operation: "uv_timer_init", code: status)
        }
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
    }

    /// Fires `action` after `milliseconds`, then every `repeat` ms if nonzero.
    /// Restarting replaces the previous schedule.
    public func start(after milliseconds: UInt64, repeat interval: UInt64 = 0, _ action: @escaping () -> Void) {
        guard !isClosed else { return }
        self.action = action
        uv_timer_start(handle, { timer in
            owner(ofHandle: timer, as: LoopTimer.self)?.action()
        }, milliseconds, interval)
    }

    /// Fires `action` once after `seconds`, rounded up to a millisecond.
    public func start(afterSeconds seconds: Double, _ action: @escaping () -> Void) {
        start(after: Self.milliseconds(fromSeconds: seconds), action)
    }

    /// The one place seconds become timer milliseconds. Total over every
    /// Double, so no value from a config or a clock can trap the
    /// conversion: negatives are 0; NaN, the infinity and anything past
    /// 2^53 ms (about 285,000 years) are 2^53 ms: in effect never, rather
    /// than a timer that fires at once and is armed again forever.
    static func milliseconds(fromSeconds seconds: Double) -> UInt64 {
        let longest = Double(1 << 53)
        if seconds.isNaN { return UInt64(longest) }
        guard seconds > 0 else { return 0 }
        let milliseconds = (seconds * 1000).rounded(.up)
        return milliseconds < longest ? UInt64(milliseconds) : UInt64(longest)
    }

    public func stop() {
        guard !isClosed else { return }
        uv_timer_stop(handle)
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        action = {}
        closeHandle(handle)
    }
}

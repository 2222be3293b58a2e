import CFaultGuard

/// Swift face of `CFaultGuard`: a SIGBUS from reading a mapped file past
/// its end (a model file truncated on disk) becomes a counted fault on a
/// zero page instead of the death of the daemon. Readers note `count`
/// before their work and look again after it.
public enum FaultGuard {
    /// Installs the process-wide handler (once; later calls do nothing).
    /// Returns false, and leaves SIGBUS as it was, if sigaction failed.
    @discardableResult
    public static func install() -> Bool {
        moe_fault_guard_install() == 0
    }

    /// Faults contained since the process started.
    static var count: UInt64 { moe_fault_guard_count() }

    enum FaultAddress: Equatable {
        case known(UInt)
        /// Its handler is still running on another thread: that fault is
        /// not one of the caller's own, which are done by the time it looks.
        case pending
        /// Too many faults since: the record no longer holds it.
        case lost
    }

    /// Counts the faults inside `range` apart from all others, from now
    /// on; nil when every slot is taken.
    static func watch(_ range: ClosedRange<UInt>) -> Int32? {
        let slot = moe_fault_guard_watch(range.lowerBound, range.upperBound &+ 1)
        return slot >= 0 ? slot : nil
    }

    /// Faults inside the range of `slot` since it was watched.
    static func count(in slot: Int32) -> UInt64 { moe_fault_guard_count_in(slot) }

    static func unwatch(_ slot: Int32) { moe_fault_guard_unwatch(slot) }

    /// Where fault number `n` (0-based, below `count`) happened.
    static func address(ofFault n: UInt64) -> FaultAddress {
        var address: UInt = 0
        switch moe_fault_guard_address(n, &address) {
        case 1: return .known(address)
        case 0: return .pending
        default: return .lost
        }
    }
}

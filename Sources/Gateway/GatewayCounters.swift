import Foundation

/// What moegate itself counts, shared by every request task.
public final class GatewayCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var completions: UInt64 = 0
    private var failures: UInt64 = 0
    private var unauthorized: UInt64 = 0

    public init() {}

    struct Snapshot {
        var completions: UInt64
        var failures: UInt64
        var unauthorized: UInt64
    }

    func countCompletion() { bump { $0.completions += 1 } }
    func countFailure() { bump { $0.failures += 1 } }
    func countUnauthorized() { bump { $0.unauthorized += 1 } }

    private func bump(_ change: (GatewayCounters) -> Void) {
        lock.lock()
        change(self)
        lock.unlock()
    }

    var snapshot: Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return Snapshot(completions: completions, failures: failures, unauthorized: unauthorized)
    }
}

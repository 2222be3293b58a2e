import Dispatch

/// The real executor: one serial dispatch queue per lane (tier), results
/// back on the loop through an `AsyncQueue`.
public final class DispatchExecutor: WorkExecutor {
    private let loopQueue: AsyncQueue
    private let lock = NSLockLite()
    private var lanes: [String: DispatchQueue] = [:]

    public init(loopQueue: AsyncQueue) {
        self.loopQueue = loopQueue
    }

    public func run(lane: String, _ work: @escaping () -> Void) {
        lock.lock()
        let queue = lanes[lane] ?? DispatchQueue(label: "moed.tier.\(lane)")
        lanes[lane] = queue
        lock.unlock()
        queue.async(execute: work)
    }

    public func post(_ work: @escaping () -> Void) {
        loopQueue.post(work)
    }
}

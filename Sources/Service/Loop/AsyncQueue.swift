import CLibUV
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Carries closures from any thread onto the loop thread.
///
/// `uv_async_send` coalesces wake-ups, so each wake drains the whole
/// queue: several posts before the loop runs still all execute, in order.
public final class AsyncQueue {
    private let handle: UnsafeMutablePointer<uv_async_t>
    private let lock = NSLockLite()
    private var pending: [() -> Void] = []
    private var isClosed = false

    public init(loop: EventLoop) throws {
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_async_t())
        let status = uv_async_init(loop.raw, handle) { async in
            owner(ofHandle: async, as: AsyncQueue.self)?.drain()
        }
        guard status == 0 else {
            handle.deallocate()
            throw LoopError(operation: "uv_async_init", code: status)
        }
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
    }

    /// Queues `work` for the loop thread. Safe from any thread; after
    /// `close()` the work is dropped (the loop is going away).
    public func post(_ work: @escaping () -> Void) {
        lock.lock()
        guard !isClosed else {
            lock.unlock()
            return
        }
        pending.append(work)
        lock.unlock()
        uv_async_send(handle)
    }

    /// Stops accepting work and closes the handle. Loop thread only.
    public func close() {
        lock.lock()
        isClosed = true
        lock.unlock()
        drain()
        closeHandle(handle)
    }

    private func drain() {
        while true {
            lock.lock()
            let batch = pending
            pending.removeAll()
            lock.unlock()
            if batch.isEmpty { return }
            batch.forEach { $0() }
        }
    }
}

/// A pthread mutex, so the loop code needs no Foundation.
final class NSLockLite: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

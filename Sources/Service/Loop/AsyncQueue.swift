import CLibUV
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Carries closures from any thread onto the loop thread.
///
/// The wake is an eventfd watched by a `uv_poll_t`, not a `uv_async_t`.
/// libuv 1.44 (Debian 12's) makes the loop thread spin, 997 pauses and
/// then `sched_yield`, while a sender is between the two flag updates
/// around its eventfd write. On a machine whose cores all decode, the
/// sender is often the very thread the wake preempted: 67 yields in 256
/// streamed tokens, measured with strace on moed, each a spin and two
/// context switches taken from the decode. Here a sender writes the eventfd
/// only when no wake is outstanding, and the loop never waits for a sender.
/// Several posts before the loop runs share one wake and one drain, in order.
public final class AsyncQueue {
    private let handle: UnsafeMutablePointer<uv_poll_t>
    private let wakeFD: Int32
    private let lock = NSLockLite()
    private var pending: [() -> Void] = []
    private var isWakeOutstanding = false  // an eventfd write not yet followed by a drain that found the queue empty
    private var isClosed = false

    public init(loop: EventLoop) throws {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw LoopError(operation: "eventfd", code: -errno) }
        wakeFD = fd
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_poll_t())
        // On a throw from here on, deinit runs (every property is set) and closes the eventfd.
        let initialized = uv_poll_init(loop.raw, handle, fd)
        guard initialized == 0 else {
            handle.deallocate()  // never registered with the loop
            throw LoopError(operation: "uv_poll_init", code: initialized)
        }
        let started = uv_poll_start(handle, Int32(UV_READABLE.rawValue)) { poll, _, _ in
            owner(ofHandle: poll, as: AsyncQueue.self)?.wake()
        }
        guard started == 0 else {
            closeHandle(handle)  // registered: it must be closed, not just freed
            throw LoopError(operation: "uv_poll_start", code: started)
        }
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
    }

    /// The eventfd closes only when no thread can still post: after the
    /// handle's close callback dropped its reference, and every poster its.
    /// (A post racing `close()` thus never writes to a reused descriptor.)
    deinit { Glibc.close(wakeFD) }

    /// Queues `work` for the loop thread. Safe from any thread; after
    /// `close()` the work is dropped (the loop is going away).
    public func post(_ work: @escaping () -> Void) {
        lock.lock()
        guard !isClosed else {
            lock.unlock()
            return
        }
        pending.append(work)
        let mustWake = !isWakeOutstanding
        isWakeOutstanding = true
        lock.unlock()
        if mustWake {
            var one: UInt64 = 1
            // Cannot fail short of a counter overflow, which one write per
            // drain never reaches; EAGAIN would mean a wake is already due.
            _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
        }
    }

    /// Stops accepting work and closes the handle. Loop thread only.
    public func close() {
        lock.lock()
        isClosed = true
        lock.unlock()
        drain()
        closeHandle(handle)
    }

    /// The eventfd is readable: clear its counter, then run what is queued.
    /// Clearing first means a post after this point writes again if the
    /// drain below has already found the queue empty.
    private func wake() {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, MemoryLayout<UInt64>.size)
        drain()
    }

    private func drain() {
        while true {
            lock.lock()
            let batch = pending
            pending.removeAll()
            if batch.isEmpty { isWakeOutstanding = false }
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

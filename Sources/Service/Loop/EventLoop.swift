import CLibUV

/// One libuv loop. Everything that touches sockets, timers, signals or the
/// scheduler runs on the thread that calls `run()`.
public final class EventLoop {
    let raw: UnsafeMutablePointer<uv_loop_t>

    public init() throws {
        raw = .allocate(capacity: 1)
        let status = uv_loop_init(raw)
        guard status == 0 else {
            raw.deallocate()
            throw LoopError(operation: "uv_loop_init", code: status)
        }
    }

    deinit {
        // A loop with open handles cannot be freed safely; keep its memory
        // rather than free it under libuv (visible in tests via closeClean).
        if uv_loop_close(raw) == 0 { raw.deallocate() }
    }

    /// Runs until no active handle remains or `stop()` is called.
    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Runs one pass, waiting for events if `wait` is true.
    @discardableResult
    public func runOnce(wait: Bool = false) -> Bool {
        uv_run(raw, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0
    }

    public func stop() {
        uv_stop(raw)
    }

    /// Milliseconds of the loop's cached clock.
    public var now: UInt64 { uv_now(raw) }

    /// Handles not yet closed (closing ones included), for clean-shutdown checks.
    public var openHandleCount: Int {
        var count = 0
        withUnsafeMutablePointer(to: &count) { pointer in
            uv_walk(raw, { _, argument in
                argument?.assumingMemoryBound(to: Int.self).pointee += 1
            }, pointer)
        }
        return count
    }

    /// Runs until the close callbacks have run, then reports whether the
    /// loop had no handle left: the check every loop test ends with.
    public func closeClean() -> Bool {
        for _ in 0..<100 where openHandleCount > 0 { uv_run(raw, UV_RUN_NOWAIT) }
        return openHandleCount == 0
    }
}

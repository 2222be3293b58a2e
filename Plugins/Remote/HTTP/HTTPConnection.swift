#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One TCP connection to the upstream, non-blocking underneath: every
/// wait (connect, send, receive) is a poll in slices of at most 100 ms,
/// so the host's cancel flag is seen within one slice and `timeout`
/// bounds how long the upstream may stay silent. Used by one thread.
public final class HTTPConnection {
    private var fd: Int32 = -1
    private let timeout: Double
    private let isCancelled: () -> Bool
    /// "http://host:port", for messages.
    private let name: String

    public init(host: String, port: UInt16, timeout: Double, isCancelled: @escaping () -> Bool) throws {
        self.timeout = timeout
        self.isCancelled = isCancelled
        self.name = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw UpstreamError(.unavailable, "cannot resolve \(name): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var address: UnsafeMutablePointer<addrinfo>? = first
        while let entry = address {
            address = entry.pointee.ai_next
            let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            let candidate = socket(entry.pointee.ai_family, socketType, 0)
            guard candidate >= 0 else { lastError = errno; continue }
            fd = candidate
            if connect(candidate, entry.pointee.ai_addr, entry.pointee.ai_addrlen) == 0 { break }
            lastError = errno
            if lastError == EINPROGRESS {
                try wait(for: Int16(POLLOUT), what: "connecting to")
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(candidate, SOL_SOCKET, SO_ERROR, &soError, &length)
                if soError == 0 { break }
                lastError = soError
            }
            Glibc.close(candidate)
            fd = -1
        }
        guard fd >= 0 else { throw Self.connectError(lastError, name) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    private static func connectError(_ code: Int32, _ name: String) -> UpstreamError {
        let reason = code == ECONNREFUSED ? "connection refused (is it running?)" : String(cString: strerror(code))
        return UpstreamError(.unavailable, "cannot connect to \(name): \(reason)")
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                try wait(for: Int16(POLLOUT), what: "sending to")
            } else {
                throw UpstreamError(.unavailable, "sending to \(name) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Up to `limit` bytes; empty when the upstream closed the connection.
    public func receive(limit: Int = 64 << 10) throws -> [UInt8] {
        while true {
            try wait(for: Int16(POLLIN), what: "waiting for")
            var buffer = [UInt8](repeating: 0, count: limit)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return Array(buffer[..<count]) }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
            let reason = errno == ECONNRESET ? "connection reset" : String(cString: strerror(errno))
            throw UpstreamError(.unavailable, "reading from \(name) failed: \(reason)")
        }
    }

    /// Polls in slices until `events` are ready, the host cancels, or the
    /// upstream has been silent for `timeout` seconds.
    private func wait(for events: Int16, what: String) throws {
        let deadline = Self.now() + timeout
        while true {
            if isCancelled() { throw UpstreamError(.cancelled, "cancelled while \(what) \(name)") }
            let left = deadline - Self.now()
            guard left > 0 else {
                throw UpstreamError(.timeout, "\(name) sent nothing for \(Self.seconds(timeout)) s (timeout) while \(what) it")
            }
            var poller = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 0.1) * 1000) + 1)
            if ready > 0 { return }  // readable, writable, or an error the next call reports
            if ready < 0 && errno != EINTR {
                throw UpstreamError(.unavailable, "poll on \(name) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

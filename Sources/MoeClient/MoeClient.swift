import MoeAPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Why a client call failed, sorted the way moectl's exit codes are.
public enum ClientError: Error, CustomStringConvertible {
    /// No daemon answered at the socket.
    case cannotConnect(path: String, reason: String)
    /// The daemon hung up or sent something that is not a Response.
    case connectionLost(String)
    /// The daemon answered with an error.
    case refused(RemoteError)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): "cannot connect to moed at \(path): \(reason)"
        case .connectionLost(let reason): "connection to moed lost: \(reason)"
        case .refused(let error): "moed refused: \(error.message) (\(error.code.name))"
        }
    }
}

/// A blocking client for moed's socket: one connection, calls with ids.
public final class MoeClient {
    /// The socket used when neither --socket nor MOED_SOCKET is given.
    public static let defaultSocketPath = "/run/moed/moed.sock"

    private let fd: Int32
    private var decoder = FrameDecoder()
    /// One receive buffer for the connection's life: a streamed answer is a
    /// frame per token, and a fresh zeroed 64 KiB per frame was a cost paid
    /// on the cores the model decodes on.
    private var receiveBuffer = [UInt8](repeating: 0, count: 65_536)
    private var nextID: UInt64 = 1
    public let socketPath: String

    /// `--socket` if given, else `MOED_SOCKET`, else the default.
    public static func socketPath(explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let value = getenv("MOED_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return defaultSocketPath
    }

    public init(socketPath: String) throws {
        self.socketPath = socketPath
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError.cannotConnect(path: socketPath, reason: Self.errnoText()) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard socketPath.utf8.count < capacity else {
            close(fd)
            throw ClientError.cannotConnect(path: socketPath, reason: "path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() { raw[index] = byte }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else {
            let reason = Self.errnoText()
            close(fd)
            throw ClientError.cannotConnect(path: socketPath, reason: reason)
        }
    }

    deinit { close(fd) }

    /// Shuts the connection down from any thread: a `receive` blocked on
    /// another thread returns, and moed, seeing the hang-up, cancels this
    /// connection's calls (the gateway's way to pass on a client's disconnect).
    public func hangUp() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Makes `receive` fail instead of waiting longer than `seconds`
    /// (tests use it so a stuck daemon fails a test rather than hangs it).
    public func setReceiveTimeout(seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends a call and returns its id, without waiting.
    @discardableResult
    public func send(_ call: Call) throws -> UInt64 {
        let id = nextID
        nextID += 1
        try write(Framing.frame(Request(id: id, call: call).serialized()))
        return id
    }

    /// Writes raw bytes (tests use this to send garbage).
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw ClientError.connectionLost(Self.errnoText()) }
            offset += written
        }
    }

    /// Blocks for the next Response on this connection.
    public func receive() throws -> Response {
        while true {
            do {
                if let payload = try decoder.next() { return try Response(serialized: payload) }
            } catch {
                throw ClientError.connectionLost("\(error)")
            }
            let count = receiveBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw ClientError.connectionLost(count == 0 ? "closed by moed" : Self.errnoText()) }
            decoder.append(receiveBuffer[..<count])
        }
    }

    /// Sends `call` and waits for its final answer, passing streamed ones
    /// to `partial`. An error answer throws `.refused`.
    public func call(_ call: Call, partial: (Response) throws -> Void = { _ in }) throws -> Response {
        let id = try send(call)
        while true {
            let response = try receive()
            guard response.id == id else { continue }
            if let error = response.error { throw ClientError.refused(error) }
            if response.isFinal { return response }
            try partial(response)
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

import CLibUV
import MoeAPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Accepts clients on a Unix stream socket and hands each a `Connection`.
public final class UnixSocketServer {
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_pipe_t>
    private let maximumFrameSize: Int
    private var nextConnectionID: UInt64 = 1
    private var isClosed = false
    /// Open connections by id; a connection leaves when its handle closes.
    public private(set) var connections: [UInt64: Connection] = [:]
    public weak var delegate: ConnectionDelegate?
    /// The path bound, empty for an inherited (socket-activated) descriptor.
    public let path: String

    /// Binds `path` with `mode` (removing a stale socket file first).
    public init(loop: EventLoop, path: String, mode: UInt32, maximumFrameSize: Int) throws {
        self.loop = loop
        self.path = path
        self.maximumFrameSize = maximumFrameSize
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_pipe_t())
        try LoopError.check(uv_pipe_init(loop.raw, handle, 0), "uv_pipe_init")
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
        do {
            try Self.removeStaleSocket(path)
            try LoopError.check(uv_pipe_bind(handle, path), "bind \(path)")
            guard chmod(path, mode_t(mode)) == 0 else {
                throw LoopError(operation: "chmod \(path)", code: -errno)
            }
            try listen()
        } catch {
            closeHandle(handle)
            throw error
        }
    }

    /// Serves an already-listening descriptor (systemd socket activation).
    public init(loop: EventLoop, listeningDescriptor fd: Int32, maximumFrameSize: Int) throws {
        self.loop = loop
        self.path = ""
        self.maximumFrameSize = maximumFrameSize
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_pipe_t())
        try LoopError.check(uv_pipe_init(loop.raw, handle, 0), "uv_pipe_init")
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
        do {
            try LoopError.check(uv_pipe_open(handle, fd), "uv_pipe_open(\(fd))")
            try listen()
        } catch {
            closeHandle(handle)
            throw error
        }
    }

    private func listen() throws {
        try LoopError.check(uv_listen(streamHandle(handle), 128) { server, status in
            guard status == 0 else { return }
            owner(ofHandle: server, as: UnixSocketServer.self)?.accept()
        }, "listen")
    }

    /// A socket file left by a crashed daemon would make bind fail; only a
    /// socket is removed, never a regular file someone put there.
    private static func removeStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw LoopError(operation: "\(path) exists and is not a socket", code: -EEXIST)
        }
        unlink(path)
    }

    private func accept() {
        guard !isClosed else { return }
        let id = nextConnectionID
        nextConnectionID += 1
        guard let connection = Connection(id: id, loop: loop, server: handle, maximumFrameSize: maximumFrameSize) else { return }
        connection.delegate = delegate
        connection.onClose = { [weak self] in self?.connections[id] = nil }
        connections[id] = connection
        connection.startReading()
    }

    /// Stops accepting; existing connections stay until closed.
    public func stopListening() {
        guard !isClosed else { return }
        isClosed = true
        closeHandle(handle)
        if !path.isEmpty { unlink(path) }
    }

    /// Stops accepting and closes every connection.
    public func close() {
        stopListening()
        connections.values.forEach { $0.close() }
    }
}

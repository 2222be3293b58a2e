import CLibUV
import MoeAPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Accepts clients on a Unix stream socket and hands each a `Connection`.
public final class UnixSocketServer {
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_pipe_t>
    /// Limits for connections accepted from now on (a reload replaces them).
    public var limits: ConnectionLimits
    public let access: AccessControl
    private var nextConnectionID: UInt64 = 1
    private var isClosed = false
    /// Open connections by id; a connection leaves when its handle closes.
    public private(set) var connections: [UInt64: Connection] = [:]
    /// Open connections per peer uid, for `maxConnectionsPerUID`.
    private var connectionsByUID: [UInt32: Int] = [:]
    public weak var delegate: ConnectionDelegate?
    /// The socket file bound; nil for an inherited (socket-activated) descriptor.
    private var socketFile: SocketFile?
    /// The path bound, empty for an inherited descriptor.
    public var path: String { socketFile?.path ?? "" }

    /// Binds `path` with `mode`: refuses a path where a daemon answers,
    /// replaces a stale socket file, never follows a link.
    public init(loop: EventLoop, path: String, mode: UInt32, limits: ConnectionLimits = ConnectionLimits(),
                access: AccessControl = AccessControl()) throws {
        self.loop = loop
        self.limits = limits
        self.access = access
        var file = SocketFile(path: path)
        try file.clearForBind()
        let fd = try file.bind(mode: mode)
        socketFile = file
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_pipe_t())
        do {
            try LoopError.check(uv_pipe_init(loop.raw, handle, 0), "uv_pipe_init")
        } catch {
            handle.deallocate()
            file.removeIfOwned()
            Glibc.close(fd)
            throw error
        }
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
        do {
            let opened = uv_pipe_open(handle, fd)
            if opened != 0 { Glibc.close(fd) }  // else the handle owns it
            try LoopError.check(opened, "uv_pipe_open \(path)")
            try listen()
        } catch {
            file.removeIfOwned()
            closeHandle(handle)
            throw error
        }
    }

    /// Serves an already-listening descriptor (systemd socket activation).
    public init(loop: EventLoop, listeningDescriptor fd: Int32, limits: ConnectionLimits = ConnectionLimits(),
                access: AccessControl = AccessControl()) throws {
        self.loop = loop
        self.limits = limits
        self.access = access
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

    private func accept() {
        guard !isClosed else { return }
        let id = nextConnectionID
        nextConnectionID += 1
        guard let connection = Connection(id: id, loop: loop, server: handle, limits: limits, access: access) else { return }
        let uid = connection.peer.uid
        connection.delegate = delegate
        connection.onClose = { [weak self] in self?.forget(id, uid: uid) }
        connections[id] = connection
        connectionsByUID[uid, default: 0] += 1
        if connectionsByUID[uid, default: 0] > limits.maxConnectionsPerUID {
            moedLog.warning("refusing a connection from uid \(uid) (pid \(connection.peer.pid)): max_connections_per_uid \(limits.maxConnectionsPerUID) reached")
            return connection.refuse(RemoteError(.resourceExhausted,
                "too many connections from uid \(uid): \(limits.maxConnectionsPerUID) are open (max_connections_per_uid)"))
        }
        connection.startReading()
        connection.armIdleTimer()
    }

    private func forget(_ id: UInt64, uid: UInt32) {
        connections[id] = nil
        let remaining = connectionsByUID[uid, default: 1] - 1
        connectionsByUID[uid] = remaining > 0 ? remaining : nil
    }

    /// Stops accepting; existing connections stay until closed. The socket
    /// file goes only if it is still the one this server bound.
    public func stopListening() {
        guard !isClosed else { return }
        isClosed = true
        // Unlink before closing, so the name is never free while we still
        // hold it; and only if it is still our socket.
        if let socketFile, !socketFile.removeIfOwned() {
            moedLog.warning("leaving \(socketFile.path) in place: it is no longer the socket this moed created")
        }
        closeHandle(handle)
    }

    /// Stops accepting and closes every connection.
    public func close() {
        stopListening()
        connections.values.forEach { $0.close() }
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The socket file moed binds, owned: a live daemon's socket is never taken
/// over, a stale one (nobody listening) is replaced, the mode is set without
/// following a link, and on exit only the file this moed made is removed.
struct SocketFile {
    let path: String
    /// Device and inode of the file bound, recorded right after bind.
    private(set) var identity: (device: UInt64, inode: UInt64)?

    init(path: String) {
        self.path = path
    }

    /// Before bind: the path must fit a sockaddr_un, its folder must exist,
    /// and nothing may be serving there.
    func clearForBind() throws {
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw SocketFileError("socket path \(path) is longer than \(capacity - 1) bytes")
        }
        try checkDirectory()
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketFileError("\(path) exists and is not a socket; not replacing it")
        }
        switch Self.probe(path) {
        case .live(let pid):
            throw SocketFileError("another moed is serving on \(path)\(pid.map { " (pid \($0))" } ?? ""); stop it first or use another socket")
        case .stale:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketFileError("cannot remove the stale socket \(path): \(Self.errnoText())")
            }
        case .unknown(let reason):
            throw SocketFileError("\(path) is a socket moed cannot check (\(reason)); not replacing it")
        }
    }

    /// libuv reports a missing folder as "permission denied"; say what is wrong.
    private func checkDirectory() throws {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let directory = parent.isEmpty ? "/" : parent
        var info = stat()
        guard stat(directory, &info) == 0 else {
            if errno == ENOENT { throw SocketFileError("cannot listen on \(path): directory \(directory) does not exist") }
            throw SocketFileError("cannot listen on \(path): \(directory): \(Self.errnoText())")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SocketFileError("cannot listen on \(path): \(directory) is not a directory")
        }
    }

    private enum Probe { case live(pid: Int32?), stale, unknown(String) }

    /// Connects the way a client would: an answer means a live daemon.
    private static func probe(_ path: String) -> Probe {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .unknown(errnoText()) }
        defer { close(fd) }
        var address = address(path)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if status == 0 { return .live(pid: PeerCredentials.ofPeer(on: fd)?.pid) }
        switch errno {
        case ECONNREFUSED: return .stale
        case EAGAIN: return .live(pid: nil)  // listening, backlog full
        default: return .unknown(errnoText())
        }
    }

    /// Binds a new socket at the path and returns its descriptor, not yet
    /// listening, with the mode set (see `adopt`). moed binds it itself so
    /// that libuv never learns the path: libuv unlinks a path it bound when
    /// the handle closes, whoever's socket is there by then.
    mutating func bind(mode: UInt32) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketFileError("cannot create a socket: \(Self.errnoText())") }
        var address = Self.address(path)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else {
            let reason = errno == EADDRINUSE ? "another process bound it first" : Self.errnoText()
            close(fd)
            throw SocketFileError("cannot bind \(path): \(reason)")
        }
        do {
            try adopt(mode: mode)
        } catch {
            removeIfOwned()
            close(fd)
            throw error
        }
        return fd
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        return address
    }

    /// After bind: sets `mode` on the socket through an O_PATH descriptor
    /// (chmod on the path would follow a link someone swapped in), records
    /// its identity, and checks with lstat that the path is still it.
    mutating func adopt(mode: UInt32) throws {
        let fd = open(path, openPathOnly | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SocketFileError("cannot open \(path) after bind: \(Self.errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketFileError("\(path) was replaced by something that is not a socket right after bind; not changing its mode")
        }
        identity = (UInt64(info.st_dev), UInt64(info.st_ino))
        guard chmod("/proc/self/fd/\(fd)", mode_t(mode)) == 0 else {
            throw SocketFileError("cannot set mode \(String(mode, radix: 8)) on \(path): \(Self.errnoText())")
        }
        var check = stat()
        guard lstat(path, &check) == 0, check.st_dev == info.st_dev, check.st_ino == info.st_ino,
              check.st_mode & 0o777 == mode_t(mode) else {
            throw SocketFileError("\(path) changed while its mode was being set; not serving on it")
        }
    }

    /// Unlinks the path only if it is still the socket this moed bound.
    /// Returns false (and leaves the file) otherwise.
    @discardableResult
    func removeIfOwned() -> Bool {
        guard let identity else { return false }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK,
              UInt64(info.st_dev) == identity.device, UInt64(info.st_ino) == identity.inode else { return false }
        return unlink(path) == 0
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Why moed cannot serve on its socket path.
public struct SocketFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// O_PATH from <fcntl.h> (Linux, _GNU_SOURCE only): a descriptor naming a
/// file without opening it, which is what chmod through /proc needs.
private let openPathOnly: Int32 = 0o10000000

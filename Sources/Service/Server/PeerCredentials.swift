#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Who is on the other end of a Unix socket, as the kernel says
/// (SO_PEERCRED, SO_PEERGROUPS): taken at accept, never from the client.
public struct PeerCredentials: Equatable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups; empty where the kernel cannot tell (before 4.13).
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// Stands for a peer whose credentials could not be read: no uid an
    /// admin could have, so it is never one.
    public static let unknown = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)

    /// The credentials of the process connected on `fd`.
    static func ofPeer(on fd: Int32) -> PeerCredentials? {
        var credentials = LinuxUcred()
        var length = socklen_t(MemoryLayout<LinuxUcred>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid,
                               groups: supplementaryGroups(on: fd))
    }

    /// SO_PEERGROUPS says how much room it needs when the first guess is short.
    private static func supplementaryGroups(on fd: Int32) -> [UInt32] {
        var capacity = 32
        for _ in 0..<2 {
            var groups = [gid_t](repeating: 0, count: capacity)
            var length = socklen_t(capacity * MemoryLayout<gid_t>.size)
            let status = groups.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, soPeerGroups, $0.baseAddress, &length) }
            if status == 0 { return Array(groups.prefix(Int(length) / MemoryLayout<gid_t>.size)) }
            guard errno == ERANGE else { return [] }
            capacity = Int(length) / MemoryLayout<gid_t>.size + 1
        }
        return []
    }
}

// Glibc declares these only under _GNU_SOURCE, which Swift's Glibc module
// does not set; the layout and number are the Linux ABI's.
/// `struct ucred` from <sys/socket.h>.
private struct LinuxUcred {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// SO_PEERGROUPS from <asm-generic/socket.h> (Linux 4.13).
private let soPeerGroups: Int32 = 59

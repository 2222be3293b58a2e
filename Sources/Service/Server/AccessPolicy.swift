import MoeAPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Who is an admin: root, moed's own user, and members of `[daemon]
/// admin_group` if one is set. Admins may change what moed serves (load,
/// unload, use, reload) and see file paths; any peer that can open the
/// socket may use the tiers.
public struct AccessPolicy: Equatable, Sendable {
    public var daemonUID: UInt32
    public var adminGroup: AdminGroup?

    public struct AdminGroup: Equatable, Sendable {
        public var name: String
        public var gid: UInt32
    }

    public init(daemonUID: UInt32 = geteuid(), adminGroup: AdminGroup? = nil) {
        self.daemonUID = daemonUID
        self.adminGroup = adminGroup
    }

    /// Looks `adminGroup` up (a name in the group database, or a numeric gid).
    public init(adminGroupNamed adminGroup: String?, daemonUID: UInt32 = geteuid()) throws {
        self.daemonUID = daemonUID
        guard let adminGroup else { return }
        if let gid = UInt32(adminGroup) {
            self.adminGroup = AdminGroup(name: Self.groupName(of: gid) ?? adminGroup, gid: gid)
        } else if let gid = Self.groupID(named: adminGroup) {
            self.adminGroup = AdminGroup(name: adminGroup, gid: gid)
        } else {
            throw AccessPolicyError(message: "no such group '\(adminGroup)'")
        }
    }

    public func isAdmin(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        guard let adminGroup else { return false }
        return peer.gid == adminGroup.gid || peer.groups.contains(adminGroup.gid)
    }

    /// PERMISSION_DENIED naming the verb and what would allow it, or nil.
    public func refusal(of call: Call, from peer: PeerCredentials) -> RemoteError? {
        guard call.needsAdmin, !isAdmin(peer) else { return nil }
        let who = peer == .unknown ? "an unknown peer" : "uid \(peer.uid)"
        let admins = adminGroup.map { "root, moed's user (uid \(daemonUID)) or members of group \($0.name) (admin_group)" }
            ?? "root or moed's user (uid \(daemonUID)); set [daemon] admin_group to admit a group"
        return RemoteError(.permissionDenied, "\(call.name) is for admins, and \(who) is not one: admins are \(admins)")
    }

    private static func groupID(named name: String) -> UInt32? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    private static func groupName(of gid: UInt32) -> String? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getgrgid_r(gid, &group, &buffer, buffer.count, &result) == 0, result != nil, let name = group.gr_name else { return nil }
        return String(cString: name)
    }
}

public struct AccessPolicyError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension Call {
    /// Calls that change what moed serves for everyone.
    var needsAdmin: Bool {
        switch self {
        case .load, .unload, .use, .reload: true
        case .status, .tiers, .plugins, .generate, .tokenize, .stats, .cancel: false
        }
    }
}

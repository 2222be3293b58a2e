#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a file moed runs (a plugin) or obeys (its config) could have been
/// written by someone other than root or moed's own user.
///
/// The rule, for the file's real path (symlinks resolved) and the directory
/// that holds it: neither may be group- or world-writable, and both must be
/// owned by root or by moed's effective user. Only the immediate directory
/// is checked, not every ancestor: a sticky, world-writable `/tmp` above a
/// private `0755` folder is fine, and a checkout owned by another user above
/// a build folder moed's user created is too. Whoever can write an ancestor
/// can still swap the folder, so ancestors are the operator's to keep tight
/// (`/usr/lib`, `/etc` are). A sticky world-writable directory is refused
/// like any other world-writable one: nothing legitimate lives directly in
/// `/tmp`.
public struct FileTrust: Sendable, Equatable {
    /// Owners whose files are trusted: root and moed's effective user.
    public let trustedOwners: [uid_t]

    public init(trustedOwners: [uid_t]) {
        self.trustedOwners = trustedOwners
    }

    /// The rule for this process: root and its effective user.
    public static var forThisProcess: FileTrust {
        FileTrust(trustedOwners: geteuid() == 0 ? [0] : [0, geteuid()])
    }

    /// The absolute path with every symlink resolved, or nil when a
    /// component is missing.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The folder holding `realPath` (already resolved, so absolute).
    public static func directory(of realPath: String) -> String {
        guard let slash = realPath.lastIndex(of: "/") else { return "." }
        return slash == realPath.startIndex ? "/" : String(realPath[..<slash])
    }

    /// Why the file at `realPath` (resolved) with status `file`, or its
    /// directory, is not trusted; nil when both pass.
    public func doubt(aboutFile realPath: String, status file: stat) -> String? {
        if let reason = doubt(about: realPath, status: file) { return reason }
        let folder = Self.directory(of: realPath)
        var info = stat()
        guard stat(folder, &info) == 0 else {
            return "its directory \(folder) cannot be checked: \(String(cString: strerror(errno)))"
        }
        return doubt(about: "its directory " + folder, status: info)
    }

    /// Why `what`, with status `info`, is not trusted on its own; nil if it is.
    public func doubt(about what: String, status info: stat) -> String? {
        let mode = UInt32(info.st_mode) & 0o7777
        if mode & UInt32(S_IWOTH) != 0 { return "\(what) is world-writable (mode \(octal(mode)))" }
        if mode & UInt32(S_IWGRP) != 0 { return "\(what) is group-writable (mode \(octal(mode)))" }
        guard trustedOwners.contains(info.st_uid) else {
            return "\(what) is owned by uid \(info.st_uid), not root or moed's user\(ownerNote)"
        }
        return nil
    }

    /// Names moed's user by uid when it is not root, so the message says who is trusted.
    private var ownerNote: String {
        let others = trustedOwners.filter { $0 != 0 }
        return others.isEmpty ? " (moed runs as root)" : " (uid \(others.map(String.init).joined(separator: ", ")))"
    }

    private func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

import Foundation
import Testing
import MoeAPI
import MoeClient
import TestSupport

/// Runs moectl as another uid through setpriv (util-linux): the kernel then
/// reports that uid to moed as the peer.
func moectl(as uid: UInt32, gid: UInt32, groups: [UInt32] = [], _ arguments: [String], socket: String) throws -> (code: Int32, out: String, err: String) {
    let groupFlags = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
    return try moectl(arguments, socket: socket, launcher: [PeerAccessTests.setpriv, "--reuid=\(uid)", "--regid=\(gid)"] + groupFlags,
                      executable: PeerAccessTests.moectlOthersCanRun)
}

extension Scratch {
    /// The usual config with the socket open to every local user and
    /// `daemonKeys` added to [daemon].
    func writeOpenConfig(daemonKeys: String = "", tiers: String = "") throws {
        writeConfig(tiers: tiers)
        let text = try String(contentsOfFile: config, encoding: .utf8)
        write("moed.toml", text.replacingOccurrences(of: "socket_mode = \"0600\"", with: "socket_mode = \"0666\"\n\(daemonKeys)"))
        chmod(directory, 0o755)  // other users must reach the socket
    }
}

@Suite("Peer credentials decide who may change what moed serves", .serialized)
struct PeerAccessTests {
    static let setpriv = "/usr/bin/setpriv"
    static let nobody: UInt32 = 65534
    static let canActAsAnotherUID = getuid() == 0 && FileManager.default.isExecutableFile(atPath: setpriv)

    /// A copy of moectl in a 0755 folder under the run's temporary folder.
    /// The build's own may sit in a clone under a 0700 folder (`mktemp -d`),
    /// which the other uid cannot enter, and every run as that uid would
    /// fail with "permission denied" for reasons that are not moed's.
    static let moectlOthersCanRun: String = {
        let copy = TemporaryFiles.path("moectl")
        try? FileManager.default.copyItem(atPath: Build.path("moectl"), toPath: copy)
        chmod(URL(fileURLWithPath: copy).deletingLastPathComponent().path, 0o755)
        chmod(copy, 0o755)
        return copy
    }()

    @Test("another uid may generate and see status without paths, and is refused use, load, unload and reload; root may",
          .enabled(if: canActAsAnotherUID, "skipped: needs root and setpriv to act as another uid"))
    func nonAdminPeer() throws {
        let scratch = Scratch()
        try scratch.writeOpenConfig(tiers: "[tiers.missing]\nplugin = \"nosuchplugin\"\nmodel = \"\(scratch.directory)/none.gguf\"\n")
        let daemon = try DaemonProcess(scratch)
        let nobody = Self.nobody
        for verb in [["use", "opus"], ["load", "opus"], ["unload", "haiku"], ["reload"]] {
            let refused = try moectl(as: nobody, gid: nobody, verb, socket: scratch.socket)
            #expect(refused.code == 2, "\(verb): \(refused.err)")
            #expect(refused.err.contains("PERMISSION_DENIED") && refused.err.contains("\(verb[0]) is for admins"), "\(refused.err)")
        }
        let generated = try moectl(as: nobody, gid: nobody, ["generate", "--raw", "--max-tokens", "3", "abc"], socket: scratch.socket)
        #expect(generated.code == 0 && generated.out == toyContinuation(promptBytes: 3, count: 3) + "\n", "\(generated.err)")
        let failing = try moectl(as: nobody, gid: nobody, ["generate", "--tier", "missing", "x"], socket: scratch.socket)
        #expect(failing.code == 2 && failing.err.contains("libmoe_nosuchplugin.so not found"), "\(failing.err)")
        for verb in [["status", "--json"], ["tiers", "--json"], ["plugins", "--json"]] {
            let shown = try moectl(as: nobody, gid: nobody, verb, socket: scratch.socket)
            #expect(shown.code == 0, "\(verb): \(shown.err)")
            #expect(shown.out.contains("haiku") || shown.out.contains("toy"), "\(verb) still names tiers or plugins")
            #expect(!shown.out.contains(scratch.directory) && !shown.out.contains(Build.directory), "\(verb) shows a path: \(shown.out)")
        }
        #expect(!failing.err.contains(scratch.directory) && !failing.err.contains(Build.directory), "\(failing.err)")
        let root = try moectl(["status", "--json"], socket: scratch.socket)
        #expect(root.out.contains(scratch.config), "root sees the config path")
        #expect(try moectl(["use", "opus"], socket: scratch.socket).code == 0)
        #expect(try statusOf(daemon).defaultTier == "opus")
        #expect(daemon.stop() == 0)
    }

    @Test("members of admin_group are admins, through their primary or a supplementary group",
          .enabled(if: canActAsAnotherUID, "skipped: needs root and setpriv to act as another uid"))
    func adminGroup() throws {
        let scratch = Scratch()
        try scratch.writeOpenConfig(daemonKeys: "admin_group = 4242")
        let daemon = try DaemonProcess(scratch)
        let nobody = Self.nobody
        #expect(try moectl(as: nobody, gid: 4242, ["use", "opus"], socket: scratch.socket).code == 0)
        #expect(try moectl(as: nobody, gid: nobody, groups: [4242], ["use", "haiku"], socket: scratch.socket).code == 0)
        let outsider = try moectl(as: nobody, gid: nobody, groups: [4243], ["use", "opus"], socket: scratch.socket)
        #expect(outsider.code == 2 && outsider.err.contains("members of group 4242 (admin_group)"), "\(outsider.err)")
        #expect(try statusOf(daemon).defaultTier == "haiku")
        #expect(daemon.stop() == 0)
    }

    @Test("an admin_group that does not exist stops the start (exit 78) and refuses a reload, naming the key")
    func unknownAdminGroup() throws {
        let scratch = Scratch()
        try scratch.writeOpenConfig(daemonKeys: "admin_group = \"no-such-group-moed\"")
        let (code, message) = try #require(try moedRefusal(["--config", scratch.config]), "moed started with an unknown admin_group")
        #expect(code == 78)
        #expect(message.contains("admin_group: no such group 'no-such-group-moed'"), "\(message)")

        try scratch.writeOpenConfig()
        let daemon = try DaemonProcess(scratch)
        try scratch.writeOpenConfig(daemonKeys: "admin_group = \"no-such-group-moed\"")
        let reload = try moectl(["reload"], socket: scratch.socket)
        #expect(reload.code == 2 && reload.err.contains("no such group"), "\(reload.err)")
        #expect(try statusOf(daemon).pid == UInt32(daemon.pid))
        #expect(daemon.stop() == 0)
    }
}

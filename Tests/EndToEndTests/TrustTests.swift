import Foundation
import Testing

/// A copy of the toy plugin in its own folder under the scratch folder.
private func toyPluginCopy(in scratch: Scratch, folderMode: mode_t) throws -> (folder: String, file: String) {
    let folder = scratch.directory + "/plugins"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    let file = folder + "/libmoe_toy.so"
    try FileManager.default.copyItem(atPath: Build.path("libmoe_toy.so"), toPath: file)
    #expect(chmod(file, 0o644) == 0 && chmod(folder, folderMode) == 0)
    return (folder, file)
}

@Suite("moed trusts only files others cannot write", .serialized)
struct TrustTests {
    @Test("a tier whose plugin sits in a world-writable folder fails to load naming why; allow_untrusted_plugins lets it")
    func untrustedPlugin() throws {
        let scratch = Scratch()
        let copy = try toyPluginCopy(in: scratch, folderMode: 0o777)
        let model = scratch.write("stray.txt", "#toy\nstray text ")
        let stray = "[tiers.stray]\nplugin = \"\(copy.file)\"\nmodel = \"\(model)\"\n"
        scratch.writeConfig(tiers: stray)
        let daemon = try DaemonProcess(scratch)
        let refused = try moectl(["load", "stray"], socket: scratch.socket)
        #expect(refused.code == 2)
        #expect(refused.err.contains("not trusted: its directory \(copy.folder) is world-writable"))
        #expect(try generate(daemon.client(), prompt: "still").summary.tier == "haiku")
        let config = try String(contentsOfFile: scratch.config, encoding: .utf8)
        scratch.write("moed.toml", config.replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nallow_untrusted_plugins = true\n"))
        #expect(try moectl(["reload"], socket: scratch.socket).code == 0)
        #expect(try moectl(["load", "stray"], socket: scratch.socket).code == 0)
        #expect(try generate(daemon.client(), prompt: "x", tier: "stray").summary.tier == "stray")
        #expect(daemon.stop() == 0)
    }

    @Test("moed refuses to start on a world-writable config, naming it and why; --allow-untrusted-config starts")
    func worldWritableConfig() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        #expect(chmod(scratch.config, 0o666) == 0)
        let refusal = try #require(try moedRefusal(["--config", scratch.config]), "moed started on a world-writable config")
        #expect(refusal.code == 78)
        #expect(refusal.err.contains("\(scratch.config): not trusted: \(scratch.config) is world-writable (mode 0666)"))
        let daemon = try DaemonProcess(scratch, arguments: ["--allow-untrusted-config"])
        #expect(try generate(daemon.client(), prompt: "ok").summary.tier == "haiku")
        #expect(daemon.stop() == 0)
    }

    @Test("moed refuses a config in a group-writable folder")
    func groupWritableFolder() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        #expect(chmod(scratch.directory, 0o775) == 0)
        let refusal = try #require(try moedRefusal(["--config", scratch.config]), "moed started on a config in a group-writable folder")
        #expect(refusal.code == 78)
        #expect(refusal.err.contains("its directory \(scratch.directory) is group-writable (mode 0775)"))
    }

    @Test("as root, moed refuses a config owned by another user",
          .enabled(if: geteuid() == 0, "needs root to chown the config to another user"))
    func foreignConfig() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        #expect(chown(scratch.config, 4242, 4242) == 0)
        let refusal = try #require(try moedRefusal(["--config", scratch.config]), "moed started on another user's config")
        #expect(refusal.code == 78)
        #expect(refusal.err.contains("\(scratch.config) is owned by uid 4242, not root or moed's user"))
    }

    @Test("a reload of a config made world-writable is refused; the running config keeps serving")
    func untrustedReload() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let config = try String(contentsOfFile: scratch.config, encoding: .utf8)
        scratch.write("moed.toml", config.replacingOccurrences(of: "[tiers.opus]", with: "[tiers.sonnet]"))
        #expect(chmod(scratch.config, 0o646) == 0)
        let reload = try moectl(["reload"], socket: scratch.socket)
        #expect(reload.code == 2)
        #expect(reload.err.contains("not trusted: \(scratch.config) is world-writable (mode 0646)"))
        #expect(try statusOf(daemon).tiers.map(\.name) == ["haiku", "opus"])
        #expect(chmod(scratch.config, 0o644) == 0)
        #expect(try moectl(["reload"], socket: scratch.socket).code == 0)
        #expect(try statusOf(daemon).tiers.map(\.name) == ["haiku", "sonnet"])
        #expect(daemon.stop() == 0)
    }
}

import Foundation
import Testing
@testable import PluginHost

@Suite("File trust rule")
struct FileTrustTests {
    private static func status(mode: UInt32, owner: uid_t) -> stat {
        var info = stat()
        info.st_mode = mode_t(S_IFREG) | mode_t(mode)
        info.st_uid = owner
        return info
    }

    @Test("writable by others or owned by another user is doubted, saying which", arguments: [
        (0o644, 0, nil), (0o755, 0, nil), (0o600, 0, nil),
        (0o666, 0, "f is world-writable (mode 0666)"),
        (0o1777, 0, "f is world-writable (mode 1777)"),
        (0o664, 0, "f is group-writable (mode 0664)"),
        (0o644, 1000, "f is owned by uid 1000, not root or moed's user (moed runs as root)"),
    ] as [(UInt32, uid_t, String?)])
    func rule(mode: UInt32, owner: uid_t, expected: String?) {
        let trust = FileTrust(trustedOwners: [0])
        #expect(trust.doubt(about: "f", status: Self.status(mode: mode, owner: owner)) == expected)
    }

    @Test("moed's own user is trusted besides root, and named when another owner is refused")
    func ownUser() {
        let trust = FileTrust(trustedOwners: [0, 1001])
        #expect(trust.doubt(about: "f", status: Self.status(mode: 0o644, owner: 1001)) == nil)
        #expect(trust.doubt(about: "f", status: Self.status(mode: 0o644, owner: 7)) == "f is owned by uid 7, not root or moed's user (uid 1001)")
    }

    @Test("the directory of a resolved path is its parent, and / for top-level files")
    func directories() {
        #expect(FileTrust.directory(of: "/usr/lib/x.so") == "/usr/lib")
        #expect(FileTrust.directory(of: "/x.so") == "/")
    }
}

@Suite("Plugin loader trust")
struct PluginTrustTests {
    /// A copy of the toy plugin in a fresh private folder, with the given modes.
    private func toyCopy(directoryMode: mode_t = 0o755, fileMode: mode_t = 0o644) throws -> (directory: String, file: String) {
        let directory = TestPaths.privateDirectory()
        let file = directory + "/libmoe_toy.so"
        try FileManager.default.copyItem(atPath: TestPaths.plugin("toy"), toPath: file)
        #expect(chmod(file, fileMode) == 0)
        #expect(chmod(directory, directoryMode) == 0)
        return (directory, file)
    }

    private func loadError(_ path: String, loader: PluginLoader = PluginLoader()) throws -> PluginLoadError {
        let error = #expect(throws: PluginLoadError.self) { try loader.load(path: path) }
        return try #require(error)
    }

    /// Whether the dynamic linker has `path` among this process's objects
    /// (dlopen ran). Asked of the linker itself (RTLD_NOLOAD loads nothing):
    /// /proc/self/maps, read in pieces while other tests map memory, can skip lines.
    private func isMapped(_ path: String) throws -> Bool {
        guard let handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD) else { return false }
        dlclose(handle)
        return true
    }

    @Test("a plugin in a world-writable folder is refused before dlopen, naming the folder")
    func worldWritableDirectory() throws {
        let copy = try toyCopy(directoryMode: 0o777)
        let error = try loadError(copy.file)
        #expect(error.step == .untrusted)
        #expect(error.detail.hasPrefix("its directory \(copy.directory) is world-writable (mode 0777)"))
        #expect(error.detail.contains("allow_untrusted_plugins = true"))
        #expect(try !isMapped(copy.file))
    }

    @Test("a world-writable plugin file is refused naming the file")
    func worldWritableFile() throws {
        let copy = try toyCopy(fileMode: 0o666)
        let error = try loadError(copy.file)
        #expect(error.step == .untrusted)
        #expect(error.detail.hasPrefix("\(copy.file) is world-writable (mode 0666)"))
        #expect(try !isMapped(copy.file))
    }

    @Test("a plugin in a group-writable folder is refused")
    func groupWritableDirectory() throws {
        let copy = try toyCopy(directoryMode: 0o775)
        let error = try loadError(copy.file)
        #expect(error.step == .untrusted)
        #expect(error.detail.hasPrefix("its directory \(copy.directory) is group-writable (mode 0775)"))
    }

    @Test("symlinks are resolved: a link in a tidy folder to a plugin in a world-writable one is refused")
    func symlinkResolved() throws {
        let copy = try toyCopy(directoryMode: 0o777)
        let link = TestPaths.privateDirectory() + "/libmoe_toy.so"
        #expect(symlink(copy.file, link) == 0)
        let error = try loadError(link)
        #expect(error.step == .untrusted)
        #expect(error.path == link)
        #expect(error.detail.hasPrefix("its directory \(copy.directory) is world-writable"))
    }

    @Test("a plugin owned by a user moed does not trust is refused naming the uid")
    func foreignOwner() throws {
        let copy = try toyCopy()
        let stranger = geteuid() &+ 4242
        let error = try loadError(copy.file, loader: PluginLoader(trust: FileTrust(trustedOwners: [stranger])))
        #expect(error.step == .untrusted)
        #expect(error.detail.hasPrefix("\(copy.file) is owned by uid \(geteuid()), not root or moed's user (uid \(stranger))"))
        #expect(try !isMapped(copy.file))
    }

    @Test("as root, a plugin chowned to another uid is refused by the default rule",
          .enabled(if: geteuid() == 0, "needs root to chown a file to another user"))
    func chownedAway() throws {
        let copy = try toyCopy()
        #expect(chown(copy.file, 4242, 4242) == 0)
        let error = try loadError(copy.file)
        #expect(error.step == .untrusted)
        #expect(error.detail.hasPrefix("\(copy.file) is owned by uid 4242, not root or moed's user"))
    }

    @Test("allowing untrusted plugins loads one from a world-writable folder")
    func allowedAnyway() throws {
        let copy = try toyCopy(directoryMode: 0o777)
        let plugin = try PluginLoader().load(path: copy.file, allowingUntrusted: true)
        #expect(plugin.name == "toy")
        #expect(try isMapped(copy.file))
    }

    @Test("the build folder's plugins pass the default rule (the development set-up)")
    func buildFolderTrusted() throws {
        var info = stat()
        let real = try #require(FileTrust.realPath(TestPaths.plugin("toy")))
        #expect(stat(real, &info) == 0)
        #expect(FileTrust.forThisProcess.doubt(aboutFile: real, status: info) == nil)
    }
}

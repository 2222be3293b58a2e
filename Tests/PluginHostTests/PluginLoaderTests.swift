import Glibc
import Testing
@testable import PluginHost

@Suite("Plugin loader")
struct PluginLoaderTests {
    @Test("a missing file is reported as such")
    func missingFile() throws {
        let error = try loadError("/nonexistent/libmoe_nothing.so")
        #expect(error.step == .fileMissing)
    }

    @Test("a file that is not a shared object fails at dlopen with the system's reason")
    func notAnObject() throws {
        let path = TestPaths.temporaryFile("this is not ELF", suffix: ".so")
        let error = try loadError(path)
        #expect(error.step == .dlopenFailed)
        #expect(!error.detail.isEmpty)
    }

    @Test("a FIFO named as a plugin is refused at once, not waited on")
    func fifo() throws {
        let path = TestPaths.temporaryFile("", suffix: ".so")
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let error = try loadError(path)
        #expect(error.step == .dlopenFailed)
        #expect(error.detail == "not a regular file")
    }

    @Test("a plugin without moe_plugin_init is refused naming the symbol")
    func missingSymbol() throws {
        let error = try loadError(TestPaths.plugin("noinit"))
        #expect(error.step == .symbolMissing)
        #expect(error.detail.contains("moe_plugin_init"))
    }

    @Test("a plugin built for another ABI version is refused")
    func wrongABI() throws {
        let error = try loadError(TestPaths.plugin("wrongabi"))
        #expect(error.step == .abiMismatch)
        #expect(error.detail.contains("ABI 2"))
    }

    @Test("a probe that refuses the CPU stops the load with its reason")
    func probeRefused() throws {
        let error = try loadError(TestPaths.plugin("refuses"))
        #expect(error.step == .probeRefused)
        #expect(error.detail.contains("instruction set"))
    }

    @Test("the toy plugin loads once and reports its name")
    func toyLoads() throws {
        let loader = PluginLoader()
        let first = try loader.load(path: TestPaths.plugin("toy"))
        let second = try loader.load(path: TestPaths.plugin("toy"))
        #expect(first === second)
        #expect(first.name == "toy")
        #expect(loader.loadedPlugins.count == 1)
    }

    @Test("plugins are found by name in the first directory that has them")
    func locate() {
        let found = PluginLoader.locate(plugin: "toy", in: ["/nonexistent", TestPaths.buildDirectory])
        #expect(found == TestPaths.plugin("toy"))
        #expect(PluginLoader.locate(plugin: "absent", in: [TestPaths.buildDirectory]) == nil)
    }

    private func loadError(_ path: String) throws -> PluginLoadError {
        let error = #expect(throws: PluginLoadError.self) { try PluginLoader().load(path: path) }
        return try #require(error)
    }
}

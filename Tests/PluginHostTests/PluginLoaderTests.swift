import Glibc
import Testing
@testable import PluginHost

@Suite("Plugin loader")
struct PluginLoaderTests {
    @Test("a missing file is reported as such")
    func missingFile() {
        let error = loadError("/nonexistent/libmoe_nothing.so")
        #expect(error?.step == .fileMissing)
    }

    @Test("a file that is not a shared object fails at dlopen with the system's reason")
    func notAnObject() {
        let path = TestPaths.temporaryFile("this is not ELF", suffix: ".so")
        let error = loadError(path)
        #expect(error?.step == .dlopenFailed)
        #expect(error?.detail.isEmpty == false)
    }

    @Test("a FIFO named as a plugin is refused at once, not waited on")
    func fifo() {
        let path = TestPaths.temporaryFile("", suffix: ".so")
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let error = loadError(path)
        #expect(error?.step == .dlopenFailed)
        #expect(error?.detail == "not a regular file")
    }

    @Test("a plugin without moe_plugin_init is refused naming the symbol")
    func missingSymbol() {
        let error = loadError(TestPaths.plugin("noinit"))
        #expect(error?.step == .symbolMissing)
        #expect(error?.detail.contains("moe_plugin_init") == true)
    }

    @Test("a plugin built for another ABI version is refused")
    func wrongABI() {
        let error = loadError(TestPaths.plugin("wrongabi"))
        #expect(error?.step == .abiMismatch)
        #expect(error?.detail.contains("ABI 2") == true)
    }

    @Test("a probe that refuses the CPU stops the load with its reason")
    func probeRefused() {
        let error = loadError(TestPaths.plugin("refuses"))
        #expect(error?.step == .probeRefused)
        #expect(error?.detail.contains("instruction set") == true)
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

    private func loadError(_ path: String) -> PluginLoadError? {
        do {
            _ = try PluginLoader().load(path: path)
            return nil
        } catch {
            return error as? PluginLoadError
        }
    }
}

import GenerationCore
import Foundation
import Testing
import PluginHost
@testable import Service

@Suite("Configuration")
struct ConfigurationTests {
    static let sample = """
        # moed config
        [daemon]
        socket = "/run/moed/moed.sock"
        socket_mode = "0600"
        plugin_dir = ["/usr/lib/moed/plugins", "/opt/moed"]
        memory_budget = "2GiB"
        threads = 4
        default_tier = "opus"

        [tiers.haiku]
        plugin = "dense"
        model = '/models/smol.gguf'   # literal string
        context = 4_096
        keep_alive = "2m"
        pinned = true
        temperature = 0.2
        stop = ["\\n\\n", "END"]

        [tiers.opus]
        plugin = "moe"
        model = "/models/opus.gguf"
        experts_used = 2
        keep_alive = "forever"
        """

    @Test("a FIFO named as the config is refused at once, not waited on (a reload must not block the loop)")
    func fifoConfig() throws {
        let path = NSTemporaryDirectory() + "moed-config-fifo-\(getpid()).toml"
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let error = #expect(throws: ConfigError.self) { try Configuration.load(path: path) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("not a regular file"))
    }

    @Test("a full config reads every setting")
    func sample() throws {
        let c = try Configuration.parse(Self.sample, path: "moed.toml")
        #expect(c.daemon.socketMode == 0o600)
        #expect(c.daemon.pluginDirectories == ["/usr/lib/moed/plugins", "/opt/moed"])
        #expect(c.daemon.memoryBudget == 2 << 30)
        #expect(c.daemon.threads == 4)
        #expect(c.daemon.defaultTier == "opus")
        let haiku = try #require(c.tier(named: "haiku"))
        #expect(haiku.model == "/models/smol.gguf")
        #expect(haiku.context == 4096)
        #expect(haiku.keepAlive == 120)
        #expect(haiku.isPinned)
        #expect(haiku.generation.sampling.temperature == 0.2)
        #expect(haiku.generation.stopStrings == ["\n\n", "END"])
        let opus = try #require(c.tier(named: "opus"))
        #expect(opus.expertsUsed == 2)
        #expect(opus.keepAlive == nil)
        #expect(c.tiers.map(\.name) == ["haiku", "opus"])
    }

    @Test("everything but plugin and model has a default; the first tier is the default tier")
    func defaults() throws {
        let c = try Configuration.parse("[tiers.a]\nplugin = \"dense\"\nmodel = \"m\"\n", path: "x")
        #expect(c.daemon == DaemonSettings(defaultTier: "a"))
        #expect(c.tiers[0].context == 2048)
        #expect(c.tiers[0].keepAlive == 300)
    }

    @Test("kv_type is F16 unless a tier names q8_0 or f32")
    func kvType() throws {
        let c = try Configuration.parse("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\n[tiers.b]\nplugin=\"d\"\nmodel=\"m\"\nkv_type = \"Q8_0\"\n" +
                                        "[tiers.c]\nplugin=\"d\"\nmodel=\"m\"\nkv_type = \"f32\"\n", path: "kv.toml")
        #expect(c.tiers.map(\.kvType) == [.f16, .q8_0, .f32])
    }

    @Test("bad configs are refused naming the line and key", arguments: [
        ("[daemon]\nthreads = \"four\"\n[tiers.a]\nplugin=\"d\"\nmodel=\"m\"", 2, "threads"),
        ("[daemon]\nsokcet = \"/x\"\n[tiers.a]\nplugin=\"d\"\nmodel=\"m\"", 2, "sokcet"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\ncontext = 8\n", 4, "context"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\nmodel=\"n\"\n", 4, "model"),
        ("[tiers.a]\nmodel=\"m\"\n", 1, "plugin"),
        ("[daemon]\ndefault_tier = \"zz\"\n[tiers.a]\nplugin=\"d\"\nmodel=\"m\"", 2, "default_tier"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\nkeep_alive = \"soon\"\n", 4, "keep_alive"),
        ("[daemon]\nmemory_budget = \"lots\"\n[tiers.a]\nplugin=\"d\"\nmodel=\"m\"", 2, "memory_budget"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\ntemperature = 0.5 extra\n", 4, "temperature"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"unterminated\n", 3, "model"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\nkv_type = \"q4_0\"\n", 4, "kv_type"),
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\nkv_type = 16\n", 4, "kv_type"),
    ] as [(String, Int, String)])
    func refused(source: String, line: Int, key: String) {
        do {
            _ = try Configuration.parse(source, path: "bad.toml")
            Issue.record("accepted a bad config")
        } catch let error as ConfigError {
            #expect(error.line == line)
            #expect(error.key == key)
            #expect(error.description.hasPrefix("bad.toml:\(line): \(key): "))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("structural errors name the line", arguments: [
        ("[tiers.a]\nplugin=\"d\"\nmodel=\"m\"\n[tiers.a]\n", 4),
        ("[tiers.a\n", 1),
        ("[nonsense]\n", 1),
        ("= 3\n", 1),
    ] as [(String, Int)])
    func structural(source: String, line: Int) {
        #expect(throws: ConfigError.self) { try Configuration.parse(source, path: "x") }
        do { _ = try Configuration.parse(source, path: "x") } catch let error as ConfigError {
            #expect(error.line == line)
        } catch {}
    }

    @Test("a config without tiers is refused")
    func noTiers() {
        #expect(throws: ConfigError.self) { try Configuration.parse("[daemon]\nthreads = 2\n", path: "x") }
    }

    @Test("sizes read with binary and decimal units", arguments: [
        ("512MiB", UInt64(512) << 20), ("4GiB", UInt64(4) << 30), ("2GB", 2_000_000_000), ("1.5 GiB", UInt64(3) << 29),
        ("100", 100),
    ] as [(String, UInt64)])
    func sizes(text: String, bytes: UInt64) {
        #expect(TableReader.parseSize(text) == bytes)
    }

    @Test("a missing file is a config error naming the path")
    func missingFile() throws {
        let error = try #require(#expect(throws: ConfigError.self) { try Configuration.load(path: "/nonexistent/moed.toml") })
        #expect(error.path == "/nonexistent/moed.toml")
    }

    @Test("allow_untrusted_plugins is read and off by default")
    func allowUntrustedPlugins() throws {
        let tier = "[tiers.a]\nplugin = \"toy\"\nmodel = \"m\"\n"
        #expect(try Configuration.parse(tier, path: "t").daemon.allowsUntrustedPlugins == false)
        let allowed = try Configuration.parse("[daemon]\nallow_untrusted_plugins = true\n" + tier, path: "t")
        #expect(allowed.daemon.allowsUntrustedPlugins)
        let error = #expect(throws: ConfigError.self) {
            try Configuration.parse("[daemon]\nallow_untrusted_plugins = \"yes\"\n" + tier, path: "t")
        }
        #expect(error?.key == "allow_untrusted_plugins")
    }
}

@Suite("Config file trust")
struct ConfigTrustTests {
    /// A valid config in a fresh folder of its own (0755), file mode 0644.
    private func writeConfig() throws -> (folder: String, file: String) {
        let folder = NSTemporaryDirectory() + "moed-config-trust-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let file = folder + "/moed.toml"
        try Data("[tiers.a]\nplugin = \"toy\"\nmodel = \"m\"\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(chmod(folder, 0o755) == 0 && chmod(file, 0o644) == 0)
        return (folder, file)
    }

    private func refusal(_ path: String, trust: FileTrust = .forThisProcess) throws -> String {
        let error = #expect(throws: ConfigError.self) { try Configuration.load(path: path, trust: trust) }
        return "\(try #require(error))"
    }

    @Test("a tidy config loads")
    func tidy() throws {
        #expect(try Configuration.load(path: writeConfig().file).tiers.map(\.name) == ["a"])
    }

    @Test("a group- or world-writable config is refused naming the path and why", arguments: [
        (0o664 as mode_t, "group-writable (mode 0664)"), (0o666, "world-writable (mode 0666)"),
    ])
    func writableFile(mode: mode_t, why: String) throws {
        let config = try writeConfig()
        #expect(chmod(config.file, mode) == 0)
        #expect(try refusal(config.file) == "\(config.file): not trusted: \(config.file) is \(why) (moed --allow-untrusted-config accepts it anyway)")
        #expect(try Configuration.load(path: config.file, allowingUntrustedFile: true).tiers.count == 1)
    }

    @Test("a config in a world-writable folder is refused naming the folder")
    func writableFolder() throws {
        let config = try writeConfig()
        #expect(chmod(config.folder, 0o777) == 0)
        #expect(try refusal(config.file).contains("not trusted: its directory \(config.folder) is world-writable (mode 0777)"))
    }

    @Test("a config owned by a user moed does not trust is refused naming the uid")
    func foreignOwner() throws {
        let config = try writeConfig()
        let stranger = geteuid() &+ 4242
        let text = try refusal(config.file, trust: FileTrust(trustedOwners: [stranger]))
        #expect(text.contains("\(config.file) is owned by uid \(geteuid()), not root or moed's user (uid \(stranger))"))
    }

    @Test("a symlink to a world-writable config is refused naming the real file")
    func symlinked() throws {
        let config = try writeConfig()
        #expect(chmod(config.file, 0o666) == 0)
        let link = try writeConfig().folder + "/link.toml"
        #expect(symlink(config.file, link) == 0)
        let text = try refusal(link)
        #expect(text.hasPrefix("\(link): not trusted: \(config.file) is world-writable"))
    }
}

extension DaemonSettings {
    init(defaultTier: String) {
        self.init()
        self.defaultTier = defaultTier
    }
}

@Suite("Shipped sample config")
struct SampleConfigTests {
    @Test("systemd/moed.toml parses and has the three default tiers")
    func shippedSample() throws {
        let root = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        // Parsed, not loaded: the sample's content is the point, not who owns the checkout.
        let text = try String(contentsOfFile: "/" + root + "/systemd/moed.toml", encoding: .utf8)
        let c = try Configuration.parse(text, path: "systemd/moed.toml")
        #expect(c.tiers.map(\.name) == ["haiku", "sonnet", "opus"])
        #expect(c.tiers.map(\.plugin) == ["dense", "moe", "moe"])
        #expect(c.daemon.defaultTier == "haiku")
        #expect(c.daemon.memoryBudget == nil)
        // The default tiers generate as `moectl run` does with its default flags.
        #expect(c.tiers.allSatisfy { $0.generation == GenerationOptions() && !$0.isSeedRandom })
    }
}

import Foundation
import MoeAPI
import Testing
import TestSupport

/// scripts/sanitize.sh runs the suites with these set.

/// `moectl status` tier memory against what the daemon's resident size
/// really grows by when the tier loads and generates (VmRSS in
/// /proc/<pid>/status, before and after): within 1.5× either way.
@Suite("Tier memory figures against the daemon's RSS", .serialized, DefaultModel.isInstalled,
       .enabled(if: !SanitizerRun.isActive,
                "skipped: under a sanitizer (scripts/sanitize.sh) the daemon's RSS holds shadow memory and the sanitizer's allocator"))
struct MemoryFigureTests {
    static let bound = 1.5

    /// The upcycled MoE files the default sonnet and opus tiers serve, next
    /// to the default model (scripts/default-models.sh makes them).
    static func moeModel(_ name: String) -> String? {
        guard let dense = DefaultModel.path else { return nil }
        let path = URL(fileURLWithPath: dense).deletingLastPathComponent().appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static func residentBytes(of pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }, "no VmRSS in /proc/\(pid)/status")
        let kib = try #require(line.split(separator: " ").dropFirst().first.flatMap { Double($0) }, "unreadable \(line)")
        return kib * 1024
    }

    /// Loads `tier`, generates on it, and compares its status figure with the RSS it added.
    func check(_ daemon: DaemonProcess, tier: String, prompt: String, tokens: UInt32) throws {
        let client = try daemon.client()
        client.setReceiveTimeout(seconds: 300)  // a long prompt on a debug build, on a busy machine
        let before = try Self.residentBytes(of: daemon.pid)
        guard case .tier(let loaded) = try client.call(.load(tier: tier)).result, loaded.state == .ready else {
            Issue.record("tier \(tier) did not load: \(daemon.log)")
            return
        }
        _ = try generate(client, prompt: prompt, tier: tier, maxTokens: tokens)
        // The tier's figures are refreshed on its lane when the run of
        // steps ends, just after the summary; a tokenize call queues behind
        // that, so the status after it has them.
        var tokenize = TokenizeRequest()
        tokenize.tier = tier
        tokenize.text = "sync"
        _ = try client.call(.tokenize(tokenize))
        let after = try Self.residentBytes(of: daemon.pid)
        guard case .status(let status) = try client.call(.status).result else { throw E2EError("no status reply") }
        let figures = try #require(status.tiers.first { $0.name == tier }, "no tier \(tier) in status")
        let reported = Double(figures.memoryBytes), added = after - before
        let m = figures.memory
        let detail = "tier \(tier): status \(Int(reported / 1_048_576)) MiB (weights \(m.weightBytes >> 20), " +
            "KV \(m.kvType) \(m.kvCacheBytes >> 20), scratch \(m.scratchBytes >> 20) MiB), RSS added \(Int(added / 1_048_576)) MiB"
        print(detail)
        #expect(m.kvType == "f16")
        #expect(reported <= Self.bound * added && added <= Self.bound * reported, "\(detail)")
    }

    @Test("the three default tiers: status memory within 1.5× of the RSS each adds")
    func defaultTiers() throws {
        let dense = try #require(DefaultModel.path, DefaultModel.missing)
        let scratch = Scratch()
        var config = """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            max_batch = 8
            [tiers.haiku]
            plugin = "dense"
            model = "\(dense)"
            context = 4096
            """
        var tiers = ["haiku"]
        for (name, file, used) in [("sonnet", "SmolLM2-8x135M-top2.gguf", 2), ("opus", "SmolLM2-16x135M-top4.gguf", 4)] {
            guard let path = Self.moeModel(file) else {
                print("skipped: tier \(name) needs \(file) next to the default model (scripts/default-models.sh)")
                continue
            }
            config += "\n[tiers.\(name)]\nplugin = \"moe\"\nmodel = \"\(path)\"\ncontext = 4096\nexperts_used = \(used)\n"
            tiers.append(name)
        }
        scratch.write("moed.toml", config)
        let daemon = try DaemonProcess(scratch)
        for tier in tiers {
            try check(daemon, tier: tier, prompt: "Write a short poem about the sea.", tokens: 32)
        }
        #expect(daemon.stop() == 0)
    }

    @Test("a 4096-context tier holding a 1,500-token conversation: status memory within 1.5× of the RSS it adds")
    func longContext() throws {
        let dense = try #require(DefaultModel.path, DefaultModel.missing)
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.long]
            plugin = "dense"
            model = "\(dense)"
            context = 4096
            """)
        let daemon = try DaemonProcess(scratch)
        let history = String(repeating: "The river runs past the old mill and into the valley below. ", count: 120)
        try check(daemon, tier: "long", prompt: history + "Where does the river go?", tokens: 16)
        #expect(daemon.stop() == 0)
    }
}

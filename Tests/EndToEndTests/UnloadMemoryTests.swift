import Foundation
import MoeAPI
import Testing
import TestSupport

private let underSanitizer = ["ASAN_OPTIONS", "TSAN_OPTIONS"].contains { ProcessInfo.processInfo.environment[$0] != nil }

/// A tier unloaded gives its memory back: after rounds of loading,
/// generating on and unloading a second SmolLM2 tier, moed's RSS is back
/// within 4 MiB of where it was after the first round (glibc kept the
/// freed tokenizers and buffers in its per-thread arenas before
/// `FreedMemory.release`: +7 MiB from the second round to the fifth, +18
/// from the start, in a release build; +1.4 and +2.7 with it).
@Suite("Unloading a tier returns its memory", .serialized, DefaultModel.isInstalled,
       .enabled(if: !underSanitizer,
                "skipped: under a sanitizer (scripts/sanitize.sh) the daemon's RSS holds shadow memory and the sanitizer's allocator"))
struct UnloadMemoryTests {
    @Test("after a first round, three more rounds of load, generate, unload leave RSS within 4 MiB")
    func rssReturns() throws {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 2
            default_tier = "first"
            [tiers.first]
            plugin = "dense"
            model = "\(model)"
            context = 256
            [tiers.second]
            plugin = "dense"
            model = "\(model)"
            context = 256
            """)
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        client.setReceiveTimeout(seconds: 300)
        _ = try generate(client, prompt: "Hello", tier: "first", maxTokens: 4)
        var start = 0.0
        for round in 0..<4 {
            // the first round pays what a lane and a load cost once (a thread, its arena)
            if round == 1 { start = try MemoryFigureTests.residentBytes(of: daemon.pid) }
            guard case .tier(let loaded) = try client.call(.load(tier: "second")).result, loaded.state == .ready else {
                Issue.record("tier second did not load: \(daemon.log)")
                return
            }
            _ = try generate(client, prompt: "Hello", tier: "second", maxTokens: 4)
            _ = try client.call(.unload(tier: "second"))
            print("round \(round): RSS \(Int(try MemoryFigureTests.residentBytes(of: daemon.pid) / 1_048_576)) MiB")
        }
        let end = try MemoryFigureTests.residentBytes(of: daemon.pid)
        let grown = (end - start) / 1_048_576
        print("RSS \(Int(start / 1_048_576)) → \(Int(end / 1_048_576)) MiB after three rounds")
        #expect(grown <= 4, "RSS grew \(grown) MiB")
        #expect(daemon.stop() == 0)
    }
}

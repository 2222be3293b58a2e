import Foundation
import MoeAPI
import Testing
import TestSupport


/// A tier unloaded gives its memory back: after rounds of loading,
/// generating on and unloading a second SmolLM2 tier, moed's RSS is back
/// within 12 MiB of where it was: a lane's thread and arena are kept, the
/// freed tokenizer and buffers are not (glibc kept them in its per-thread
/// arenas before `FreedMemory.release`: +18 MiB after five rounds in a
/// release build, +3 with it; a debug build's first rounds add up to 9).
@Suite("Unloading a tier returns its memory", .serialized, DefaultModel.isInstalled,
       .enabled(if: !SanitizerRun.isActive,
                "skipped: under a sanitizer (scripts/sanitize.sh) the daemon's RSS holds shadow memory and the sanitizer's allocator"))
struct UnloadMemoryTests {
    @Test("four rounds of load, generate, unload leave RSS within 12 MiB of the start")
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
        let start = try MemoryFigureTests.residentBytes(of: daemon.pid)
        for round in 0..<4 {
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
        print("RSS \(Int(start / 1_048_576)) → \(Int(end / 1_048_576)) MiB after four rounds")
        #expect(grown <= 12, "RSS grew \(grown) MiB")
        #expect(daemon.stop() == 0)
    }
}

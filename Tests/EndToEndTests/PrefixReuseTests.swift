import Foundation
import Testing
import TestSupport

/// Prefix reuse through a real moed and `moectl chat`'s conversation mode:
/// later turns continue the cached conversation (cached_prompt_tokens > 0)
/// and greedy output is token for token what a full prefill gives, on the
/// dense plugin with a tiny model made in code and with SmolLM2.
@Suite("Prefix reuse through moed", .serialized)
struct PrefixReuseEndToEndTests {
    /// One turn of `moectl chat --json`.
    struct Turn: Equatable {
        var tokens: [Int]
        var promptTokens: Int
        var cachedPromptTokens: Int
    }

    static let lines = ["Hi there.", "Tell me more.", "Why is that?", "Give an example.", "Thanks, bye."]

    static func chat(_ socket: String, _ flags: [String] = []) throws -> [Turn] {
        let run = try moectl(["chat", "--json", "--temperature", "0", "--max-tokens", "8"] + flags, socket: socket,
                             stdin: lines.joined(separator: "\n") + "\n")
        #expect(run.code == 0, "\(run.err)")
        return try run.out.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            let timings = try #require(object["timings"] as? [String: Any], "\(line)")
            return Turn(tokens: try #require(object["tokens"] as? [Int]),
                        promptTokens: try #require(timings["prompt_tokens"] as? Int),
                        cachedPromptTokens: try #require(timings["cached_prompt_tokens"] as? Int))
        }
    }

    func start(_ scratch: Scratch, plugin: String, model: String, context: Int) throws -> DaemonProcess {
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.haiku]
            plugin = "\(plugin)"
            model = "\(model)"
            context = \(context)
            """)
        return try DaemonProcess(scratch)
    }

    /// The conversation twice on one daemon: without reuse, then with; the
    /// same tokens each turn, and turns 2-5 continue a cached prefix.
    func sameWithAndWithout(plugin: String, model: String, context: Int) throws {
        let scratch = Scratch()
        let daemon = try start(scratch, plugin: plugin, model: model, context: context)
        let cold = try Self.chat(scratch.socket, ["--no-cache-prompt"])
        let warm = try Self.chat(scratch.socket)
        try #require(cold.count == 5 && warm.count == 5)
        #expect(warm.map(\.tokens) == cold.map(\.tokens))
        #expect(warm.map(\.promptTokens) == cold.map(\.promptTokens))
        #expect(cold.allSatisfy { $0.cachedPromptTokens == 0 })
        #expect(warm[0].cachedPromptTokens == 0)
        for turn in 1..<5 { #expect(warm[turn].cachedPromptTokens > 0, "turn \(turn + 1): \(warm[turn])") }
        let stats = try moectl(["stats", "--json"], socket: scratch.socket)
        #expect(stats.out.contains("\"prefix_cache_hits\":4"), "\(stats.out)")
        #expect(daemon.stop() == 0)
    }

    @Test("moectl chat: turns 2-5 continue the cached conversation; the same tokens as without (toy plugin)")
    func toyConversation() throws {
        let scratch = Scratch()
        let model = scratch.write("toy.txt", "#toy step_ms=1\nHello from the toy model. ")
        try sameWithAndWithout(plugin: "toy", model: model, context: 512)
    }

    @Test("a plugin without the prefix entries (the toy's prefix=0) serves every turn by prefilling")
    func withoutEntries() throws {
        let scratch = Scratch()
        let model = scratch.write("toy.txt", "#toy prefix=0\nHello from the toy model. ")
        let daemon = try start(scratch, plugin: "toy", model: model, context: 512)
        let turns = try Self.chat(scratch.socket)
        #expect(turns.count == 5)
        #expect(turns.allSatisfy { $0.cachedPromptTokens == 0 && !$0.tokens.isEmpty })
        #expect(daemon.stop() == 0)
    }

    @Test("greedy output is identical with and without reuse: dense plugin, tiny model made in code")
    func denseTiny() throws {
        let path = try SyntheticModel().write(named: "e2e-prefix-dense")
        try sameWithAndWithout(plugin: "dense", model: path, context: 256)
    }

    @Test("greedy output is identical with and without reuse: dense plugin, SmolLM2", DefaultModel.isInstalled)
    func denseSmolLM2() throws {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        try sameWithAndWithout(plugin: "dense", model: model, context: 1024)
    }
}

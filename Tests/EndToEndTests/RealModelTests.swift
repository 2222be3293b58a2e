import Foundation
import Testing
import TestSupport

@Suite("SmolLM2 through the dense plugin", .serialized, DefaultModel.isInstalled)
struct RealModelTests {
    /// One moectl --json generation result: the fields both paths must agree on.
    private struct Generation: Equatable {
        var promptTokens: [Int]
        var tokens: [Int]
        var text: String
        var finishReason: String

        init(json: String) throws {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "not a JSON object: \(json)")
            promptTokens = try #require(object["prompt_tokens"] as? [Int], "no prompt_tokens in \(json)")
            tokens = try #require(object["tokens"] as? [Int], "no tokens in \(json)")
            text = try #require(object["text"] as? String, "no text in \(json)")
            finishReason = try #require(object["finish_reason"] as? String, "no finish_reason in \(json)")
        }
    }

    @Test("greedy chat through moed gives the same tokens as moectl run in-process")
    func sameAsInProcess() throws {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.haiku]
            plugin = "dense"
            model = "\(model)"
            context = 512
            """)
        let daemon = try DaemonProcess(scratch)
        let flags = ["--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "12", "--json", "Name a river in Europe."]
        let served = try moectl(["generate"] + flags, socket: scratch.socket)
        let local = try moectl(["run", "--model", model, "--context", "512", "--threads", "1"] + flags, socket: scratch.socket)
        #expect(served.code == 0 && local.code == 0, "\(served.err) \(local.err)")
        let a = try Generation(json: served.out), b = try Generation(json: local.out)
        #expect(!a.tokens.isEmpty)
        #expect(a == b)
        #expect(daemon.stop() == 0)
    }
}

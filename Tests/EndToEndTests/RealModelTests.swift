import Foundation
import Testing

/// The shipped SmolLM2 file, where scripts/ put it.
enum RealModel {
    static let path = PythonClient.packageRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static var isPresent: Bool { FileManager.default.fileExists(atPath: path) }
}

@Suite("SmolLM2 through the dense plugin", .serialized)
struct RealModelTests {
    @Test("greedy chat through moed gives the same tokens as moectl run in-process",
          .enabled(if: RealModel.isPresent, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/ fetch it)"))
    func sameAsInProcess() throws {
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.haiku]
            plugin = "dense"
            model = "\(RealModel.path)"
            context = 512
            """)
        let daemon = try DaemonProcess(scratch)
        let flags = ["--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "12", "--json", "Name a river in Europe."]
        let served = try moectl(["generate"] + flags, socket: scratch.socket)
        let local = try moectl(["run", "--model", RealModel.path, "--context", "512", "--threads", "1"] + flags, socket: scratch.socket)
        #expect(served.code == 0 && local.code == 0)
        let a = try JSONSerialization.jsonObject(with: Data(served.out.utf8)) as? [String: Any] ?? [:]
        let b = try JSONSerialization.jsonObject(with: Data(local.out.utf8)) as? [String: Any] ?? [:]
        #expect((a["prompt_tokens"] as? [Int]) == (b["prompt_tokens"] as? [Int]))
        #expect((a["tokens"] as? [Int]) == (b["tokens"] as? [Int]))
        #expect(a["text"] as? String == b["text"] as? String)
        #expect(a["finish_reason"] as? String == b["finish_reason"] as? String)
        #expect((a["tokens"] as? [Int])?.isEmpty == false)
        #expect(daemon.stop() == 0)
    }
}

import Foundation
import Testing
import TestSupport

/// `moectl run` (in-process) and `moectl generate` (through moed and the
/// real plugin) share one generation core: with the same prompt and
/// flags, on a tier with no sampling keys, they give the same tokens,
/// text, finish reason and log-probabilities. Run on every model of the
/// test set: tiny models made in code (dense and MoE), and SmolLM2 and
/// Qwen2.5-Coder-0.5B when installed.
@Suite("moectl run = moectl generate, token for token", .serialized)
struct RunMatchesGenerateTests {
    /// The fields of a `--json` answer both paths must agree on.
    struct Answer: Equatable, CustomStringConvertible {
        var promptTokens: [Int]
        var tokens: [Int]
        var text: String
        var finishReason: String
        /// (id, logprob) per token, and the alternatives' ids.
        var logprobs: [Double]
        var alternatives: [[Int]]
        var contextShifts: Int

        init(json: String) throws {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "not JSON: \(json)")
            promptTokens = try #require(object["prompt_tokens"] as? [Int], "no prompt_tokens in \(json)")
            tokens = try #require(object["tokens"] as? [Int], "no tokens in \(json)")
            text = try #require(object["text"] as? String, "no text in \(json)")
            finishReason = try #require(object["finish_reason"] as? String, "no finish_reason in \(json)")
            contextShifts = try #require(object["context_shifts"] as? Int, "no context_shifts in \(json)")
            let entries = object["logprobs"] as? [[String: Any]] ?? []
            logprobs = entries.compactMap { $0["logprob"] as? Double }
            alternatives = entries.map { ($0["top_logprobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int } }
        }

        var description: String { "\(finishReason) (\(contextShifts) shifts) \(tokens) \(text.debugDescription)" }

        /// Equal tokens and text; log-probabilities within float printing noise.
        func matches(_ other: Answer) -> Bool {
            var a = self, b = other
            let close = a.logprobs.count == b.logprobs.count && zip(a.logprobs, b.logprobs).allSatisfy { abs($0 - $1) < 1e-4 }
            a.logprobs = []
            b.logprobs = []
            return close && a == b
        }
    }

    /// The flag sets compared: all defaults, greedy, and defaults with logprobs.
    static let flagSets: [[String]] = [[], ["--temperature", "0"], ["--logprobs", "3", "--max-tokens", "16"]]

    /// Starts moed with one default tier (no sampling keys) on `model`,
    /// then compares both paths for every flag set and prompt.
    func compare(model: String, plugin: String, context: Int, prompts: [[String]],
                 flagSets: [[String]] = flagSets, check: (Answer, [String]) -> Void = { _, _ in }) throws {
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.only]
            plugin = "\(plugin)"
            model = "\(model)"
            context = \(context)
            """)
        let daemon = try DaemonProcess(scratch)
        for flags in flagSets {
            for prompt in prompts {
                let common = flags + ["--json"] + prompt
                // Each prompt runs once per flag set: without --no-cache-prompt the
                // later runs would continue the first one's cached prefix, whose last
                // prompt token is then evaluated alone instead of in the prompt's
                // batch — the same tokens, but quantized kernels sum in another
                // order, so logprobs move by ~1e-3. PrefixReuse tests cover reuse.
                let served = try moectl(["generate", "--no-cache-prompt"] + common, socket: scratch.socket)
                let local = try moectl(["run", "--model", model, "--context", "\(context)", "--threads", "1"] + common,
                                       socket: scratch.socket)
                #expect(served.code == 0 && local.code == 0, "\(served.err) \(local.err)")
                let a = try Answer(json: served.out), b = try Answer(json: local.out)
                #expect(!a.tokens.isEmpty, "\(flags) \(prompt)")
                #expect(a.matches(b), "\(flags) \(prompt): generate \(a) ≠ run \(b)")
                check(a, flags)
                if flags.contains("--logprobs") {
                    #expect(a.logprobs.count == a.tokens.count && a.alternatives.allSatisfy { $0.count == 3 })
                }
            }
        }
        #expect(daemon.stop() == 0)
    }

    static let tinyPrompts = [["--raw", "the cat"], ["hello there"]]

    @Test("a tiny dense Llama model made in code, through the dense plugin")
    func tinyDense() throws {
        let path = try SyntheticModel().write(named: "run-generate-dense")
        try compare(model: path, plugin: "dense", context: 128, prompts: Self.tinyPrompts)
    }

    @Test("a tiny Qwen2-style model (Q/K/V biases) made in code, through the dense plugin")
    func tinyQwen2() throws {
        var model = SyntheticModel()
        model.architecture = "qwen2"
        model.attentionBiases = true
        let path = try model.write(named: "run-generate-qwen2")
        try compare(model: path, plugin: "dense", context: 128, prompts: Self.tinyPrompts)
    }

    @Test("a tiny Mixtral-layout MoE model made in code, through the MoE plugin")
    func tinyMoE() throws {
        let path = try SyntheticModel.mixtral(experts: 4, used: 2).write(named: "run-generate-moe")
        try compare(model: path, plugin: "moe", context: 128, prompts: Self.tinyPrompts)
    }

    @Test("a full context ends with context_full, or shifts and goes on with --context-shift, the same on both paths")
    func contextFullAndShift() throws {
        let path = try SyntheticModel().write(named: "run-generate-shift")
        let greedy = ["--temperature", "0", "--max-tokens", "60"]
        try compare(model: path, plugin: "dense", context: 24, prompts: [["--raw", "the cat sat"]],
                    flagSets: [greedy, greedy + ["--context-shift"], ["--context-shift", "--max-tokens", "60"]]) { answer, flags in
            if flags.contains("--context-shift") {
                // It went past one full context (the tiny model may then draw its end token).
                #expect(answer.contextShifts >= 1 && answer.finishReason != "context_full"
                        && answer.promptTokens.count + answer.tokens.count > 24, "\(answer)")
            } else {
                #expect(answer.finishReason == "context_full" && answer.contextShifts == 0, "\(answer)")
            }
        }
    }

    @Test("Qwen2.5-Coder-0.5B Q4_K_M, through the dense plugin", QwenModel.isInstalled)
    func qwen() throws {
        let model = try #require(QwenModel.path)
        try compare(model: model, plugin: "dense", context: 512, prompts: [["Name a river in Europe."]])
    }

    @Test("SmolLM2 (the default model), through the dense plugin", DefaultModel.isInstalled)
    func smolLM2() throws {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        try compare(model: model, plugin: "dense", context: 512, prompts: [["Name a river in Europe."]])
    }
}

import ArgumentParser
import Foundation
import Inference
import Tokenizer

/// `moectl run`: generate from a GGUF file in-process, without the daemon.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text from a GGUF model in-process (no daemon).")

    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var sampling: SamplingOptionGroup

    @Flag(name: .long, help: "Treat PROMPT as plain text to continue, without the chat template.")
    var raw = false

    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false

    @Option(name: .long, help: "MoE models: route each token to this many experts instead of the file's count (fewer is faster and lower quality).")
    var expertsUsed: Int?

    @Flag(name: .long, help: "MoE models: report per-layer expert counts and routing entropy (in the JSON, or on stderr).")
    var expertStats = false

    @Argument(help: "The prompt (a user message unless --raw).")
    var prompt: String

    func run() throws {
        let lm = try model.load()
        if let k = expertsUsed {
            do { try lm.transformer.setExpertsUsed(k) } catch { throw ValidationError("--experts-used: \(error)") }
        }
        let promptTokens = raw ? lm.tokenize(raw: prompt)
                               : try lm.tokenize(chat: [ChatMessage(role: "user", content: prompt)])
        let generator = TextGenerator(model: lm)
        let result = try generator.generate(prompt: promptTokens, options: sampling.generationOptions) { text in
            if !json { writeStreamed(text) }
            return true
        }
        let stats = expertStats ? lm.transformer.expertStatistics.map(ExpertStatsOutput.init) : nil
        if json {
            var output = RunOutput(result)
            output.experts = stats
            try printJSON(output)
        } else {
            writeStreamed("\n")
            stats?.printHuman()
        }
    }
}

/// Per-layer routing counts of a run (`--expert-stats`), prompt and generated tokens together.
struct ExpertStatsOutput: Encodable {
    var experts_used: Int
    var tokens: Int
    var mean_entropy: Double
    var max_entropy: Double
    var layers: [Layer]

    struct Layer: Encodable {
        var counts: [Int]
        var entropy: Double
    }

    init(_ s: ExpertStatistics) {
        tokens = s.tokens
        mean_entropy = s.meanEntropy
        max_entropy = s.layers.first?.maximumEntropy ?? 0
        experts_used = tokens > 0 ? (s.layers.first?.selections.reduce(0, +) ?? 0) / tokens : 0
        layers = s.layers.map { Layer(counts: $0.selections, entropy: $0.meanEntropy) }
    }

    func printHuman() {
        var text = "expert picks per layer over \(tokens) tokens (mean routing entropy "
            + String(format: "%.3f of %.3f nats", mean_entropy, max_entropy) + ")\n"
        for (i, l) in layers.enumerated() {
            text += "  layer \(i): " + l.counts.map(String.init).joined(separator: " ")
                + String(format: "  entropy %.3f", l.entropy) + "\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// The JSON shape of `moectl run --json` (and `moectl generate --json`).
struct RunOutput: Encodable {
    var prompt_tokens: [Int32]
    var tokens: [Int32]
    var text: String
    var finish_reason: String
    var timings: Timings
    /// MoE routing statistics, only with `run --expert-stats`.
    var experts: ExpertStatsOutput? = nil

    struct Timings: Encodable {
        var prompt_tokens: Int
        var prompt_seconds: Double
        var prompt_tokens_per_second: Double
        var generated_tokens: Int
        var generation_seconds: Double
        var generation_tokens_per_second: Double
        /// Prompt tokens moed continued from a cached prefix instead of
        /// evaluating (prefix reuse); always 0 in-process.
        var cached_prompt_tokens = 0
    }

    init(_ r: GenerationResult) {
        prompt_tokens = r.promptTokens
        tokens = r.tokens
        text = r.text
        finish_reason = r.finishReason.rawValue
        let t = r.timings
        timings = Timings(prompt_tokens: t.promptTokens, prompt_seconds: t.promptSeconds,
                          prompt_tokens_per_second: t.promptTokensPerSecond,
                          generated_tokens: t.generatedTokens, generation_seconds: t.generationSeconds,
                          generation_tokens_per_second: t.generationTokensPerSecond)
    }
}

/// Sampling flags shared by `run`, `generate` and `chat`.
struct SamplingOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens: Int = 256

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .long, help: "Keep the K most likely tokens (0: off).")
    var topK: Int = 40

    @Option(name: .long, help: "Nucleus sampling mass (1: off).")
    var topP: Float = 0.95

    @Option(name: .long, help: "Drop tokens below this fraction of the best one's probability (0: off).")
    var minP: Float = 0.05

    @Option(name: .long, help: "Repetition penalty (1: off).")
    var repeatPenalty: Float = 1.0

    @Option(name: .long, help: "Random seed; the same seed gives the same output.")
    var seed: UInt64 = 0

    @Option(name: .long, parsing: .singleValue, help: "Stop before this string (repeatable).")
    var stop: [String] = []

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0, minP <= 1 else { throw ValidationError("--min-p must be in [0, 1]") }
        guard repeatPenalty > 0 else { throw ValidationError("--repeat-penalty must be positive") }
    }

    var generationOptions: GenerationOptions {
        var s = SamplingParameters()
        s.temperature = temperature
        s.topK = topK
        s.topP = topP
        s.minP = minP
        s.repetitionPenalty = repeatPenalty
        s.seed = seed
        return GenerationOptions(sampling: s, maxTokens: maxTokens, stopStrings: stop)
    }
}

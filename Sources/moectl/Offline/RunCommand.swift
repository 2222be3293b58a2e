import ArgumentParser
import Foundation
import GenerationCore
import Inference
import Tokenizer

/// `moectl run`: generate from a GGUF file in-process, without the daemon.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text from a GGUF model in-process (no daemon).")

    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var sampling: SamplingOptionGroup
    @OptionGroup var structured: StructuredOutputOptions

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
        var options = sampling.generationOptions
        options.structuredOutput = try structured.structuredOutput
        let result = try generator.generate(prompt: promptTokens, options: options) { text in
            if !json { writeStreamed(text) }
            return true
        }
        let stats = expertStats ? lm.transformer.expertStatistics.map(ExpertStatsOutput.init) : nil
        if json {
            var output = RunOutput(result)
            if sampling.logprobs != nil {
                output.logprobs = result.logprobs.map { LogprobJSON($0) { lm.tokenizer.piece($0) } }
            }
            output.experts = stats
            try printJSON(output)
        } else {
            writeStreamed("\n")
            if sampling.logprobs != nil {
                printLogprobs(result.logprobs.map { LogprobJSON($0) { lm.tokenizer.piece($0) } })
            }
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
    var context_shifts: Int
    var timings: Timings
    /// One per generated token, only with `--logprobs N`.
    var logprobs: [LogprobJSON]? = nil
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
        context_shifts = r.contextShifts
        let t = r.timings
        timings = Timings(prompt_tokens: t.promptTokens, prompt_seconds: t.promptSeconds,
                          prompt_tokens_per_second: t.promptTokensPerSecond,
                          generated_tokens: t.generatedTokens, generation_seconds: t.generationSeconds,
                          generation_tokens_per_second: t.generationTokensPerSecond)
    }
}

/// Sampling flags of `moectl run`. Their defaults are GenerationCore's,
/// the same a daemon tier starts from, so `run` and `generate` agree.
struct SamplingOptionGroup: ParsableArguments {
    private static let defaults = GenerationOptions()

    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens: Int = defaults.maxTokens

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = defaults.sampling.temperature

    @Option(name: .long, help: "Keep the K most likely tokens (0: off).")
    var topK: Int = defaults.sampling.topK

    @Option(name: .long, help: "Nucleus sampling mass (1: off).")
    var topP: Float = defaults.sampling.topP

    @Option(name: .long, help: "Drop tokens below this fraction of the best one's probability (0: off).")
    var minP: Float = defaults.sampling.minP

    @Option(name: .long, help: "Repetition penalty (1: off).")
    var repeatPenalty: Float = defaults.sampling.repetitionPenalty

    @Option(name: .long, help: "How many recent tokens the repetition penalty looks at.")
    var repeatLastN: Int = defaults.sampling.repetitionWindow

    @Option(name: .long, help: "Random seed; the same seed gives the same output.")
    var seed: UInt64 = defaults.sampling.seed

    @Option(name: .long, parsing: .singleValue, help: "Stop before this string (repeatable).")
    var stop: [String] = []

    @Option(name: .long, help: "Report each token's log-probability and its N most likely alternatives (0...20).")
    var logprobs: Int?

    @Flag(name: .long, help: "When the context is full, drop the older half of the tokens after the first one and go on.")
    var contextShift = false

    func validate() throws {
        func check(_ name: String, _ problem: String?) throws {
            if let problem { throw ValidationError("--\(name): \(problem)") }
        }
        try check("max-tokens", GenerationLimits.problem(with: maxTokens, in: GenerationLimits.maxTokens))
        try check("temperature", GenerationLimits.problem(with: temperature, in: GenerationLimits.temperature))
        try check("top-k", GenerationLimits.problem(with: topK, in: GenerationLimits.topK))
        try check("top-p", GenerationLimits.problem(with: topP, in: GenerationLimits.topP))
        try check("min-p", GenerationLimits.problem(with: minP, in: GenerationLimits.minP))
        try check("repeat-penalty", GenerationLimits.problem(with: repeatPenalty, in: GenerationLimits.repeatPenalty))
        try check("repeat-last-n", GenerationLimits.problem(with: repeatLastN, in: GenerationLimits.repeatLastN))
        try check("stop", GenerationLimits.problem(withStops: stop))
        try check("logprobs", logprobs.flatMap { GenerationLimits.problem(with: $0, in: GenerationLimits.topLogprobs) })
    }

    var generationOptions: GenerationOptions {
        var s = SamplingParameters()
        s.temperature = temperature
        s.topK = topK
        s.topP = topP
        s.minP = minP
        s.repetitionPenalty = repeatPenalty
        s.repetitionWindow = repeatLastN
        s.seed = seed
        return GenerationOptions(sampling: s, maxTokens: maxTokens, stopStrings: stop, logprobs: logprobs,
                                 contextShift: contextShift)
    }
}

/// One generated token's log-probabilities in `--json` (OpenAI's shape:
/// `token` is the piece as text, `bytes` its raw bytes).
struct LogprobJSON: Encodable {
    var id: Int32
    var token: String
    var bytes: [UInt8]
    var logprob: Float
    var top_logprobs: [LogprobJSON]?

    init(id: Int32, logprob: Float, piece: [UInt8], top: [LogprobJSON]?) {
        self.id = id
        self.token = String(decoding: piece, as: UTF8.self)
        self.bytes = piece
        self.logprob = logprob
        self.top_logprobs = top
    }

    init(_ l: TokenLogprob, piece: (Int32) -> [UInt8]) {
        self.init(id: l.token, logprob: l.logprob, piece: piece(l.token),
                  top: l.top.map { LogprobJSON(id: $0.token, logprob: $0.logprob, piece: piece($0.token), top: nil) })
    }
}

/// Log-probabilities as a table on stderr, after the streamed text.
func printLogprobs(_ entries: [LogprobJSON]) {
    var text = ""
    for e in entries {
        text += String(format: "%8.4f  ", e.logprob) + e.token.debugDescription
        if let top = e.top_logprobs, !top.isEmpty {
            text += "  [" + top.map { $0.token.debugDescription + String(format: " %.3f", $0.logprob) }.joined(separator: ", ") + "]"
        }
        text += "\n"
    }
    FileHandle.standardError.write(Data(text.utf8))
}

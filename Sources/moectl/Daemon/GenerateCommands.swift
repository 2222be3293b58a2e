import ArgumentParser
import MoeAPI
import MoeClient

/// Sampling flags of the daemon verbs: the same names as `moectl run`,
/// but unset flags take the tier's defaults from moed's config.
struct DaemonSamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Most tokens to generate (default: the tier's).") var maxTokens: UInt32?
    @Option(name: .long, help: "Sampling temperature; 0 is greedy.") var temperature: Float?
    @Option(name: .long, help: "Keep the K most likely tokens (0: off).") var topK: UInt32?
    @Option(name: .long, help: "Nucleus sampling mass (1: off).") var topP: Float?
    @Option(name: .long, help: "Drop tokens below this fraction of the best one's probability.") var minP: Float?
    @Option(name: .long, help: "Repetition penalty (1: off).") var repeatPenalty: Float?
    @Option(name: .long, help: "Random seed; the same seed gives the same output.") var seed: UInt64?
    @Option(name: .long, help: "How many recent tokens the repetition penalty looks at.") var repeatLastN: UInt32?
    @Option(name: .long, parsing: .singleValue, help: "Stop before this string (repeatable).") var stop: [String] = []
    @Option(name: .long, help: "Report each token's log-probability and its N most likely alternatives (0...20).") var logprobs: UInt32?
    @Flag(name: .long, inversion: .prefixedNo,
          help: "When the context is full, drop the older half of the tokens after the system prompt and go on, or end with context_full (default: the tier's).")
    var contextShift: Bool?
    @Flag(name: .long, help: "Evaluate the whole prompt: neither continue a cached prefix nor leave this one cached.")
    var noCachePrompt = false

    /// The request's generation fields from these flags; unset ones stay
    /// unset, so the tier's defaults apply.
    func apply(to request: inout GenerateRequest) {
        request.sampling = overrides
        request.stop = stop
        request.maxTokens = maxTokens ?? 0
        request.logprobs = logprobs
        request.contextShift = contextShift
        request.cachePrompt = !noCachePrompt
    }

    var overrides: SamplingOverrides {
        var o = SamplingOverrides()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        o.repeatPenalty = repeatPenalty
        o.repeatLastN = repeatLastN
        o.seed = seed
        return o
    }
}

/// `moectl generate`: stream a completion from moed.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text with moed (streams as it comes).")
    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var sampling: DaemonSamplingOptions
    @OptionGroup var structured: StructuredOutputOptions
    @Option(name: .long, help: "The tier (default: the daemon's default tier).") var tier: String?
    @Flag(name: .long, help: "Treat PROMPT as plain text to continue, without the chat template.") var raw = false
    @Argument(help: "The prompt (a user message unless --raw).") var prompt: String

    func run() throws {
        var request = GenerateRequest()
        request.tier = tier ?? ""
        if raw { request.prompt = prompt } else { request.messages = [ChatMessage(role: "user", content: prompt)] }
        sampling.apply(to: &request)
        try structured.apply(to: &request)
        let result = try daemon.withClient { try streamGeneration($0, request, echo: !daemon.json) }
        if daemon.json {
            try printJSON(RunOutput(result))
        } else {
            writeStreamed("\n")
            if request.logprobs != nil { printLogprobs(result.logprobs.map(LogprobJSON.init)) }
        }
    }
}

/// `moectl chat`: one turn with PROMPT, or a conversation on stdin.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Chat with a tier: one message, or a conversation read line by line from stdin.")
    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var sampling: DaemonSamplingOptions
    @OptionGroup var structured: StructuredOutputOptions
    @Option(name: .long, help: "The tier (default: the daemon's default tier).") var tier: String?
    @Option(name: .long, help: "A system message to start with.") var system: String?
    @Argument(help: "The message; without it, each stdin line is a turn.") var message: String?

    func run() throws {
        var history: [ChatMessage] = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        try daemon.withClient { client in
            let turns = message.map { [$0] } ?? Array(AnyIterator { readLine() })
            for turn in turns where !turn.isEmpty {
                history.append(ChatMessage(role: "user", content: turn))
                var request = GenerateRequest()
                request.tier = tier ?? ""
                request.messages = history
                sampling.apply(to: &request)
                try structured.apply(to: &request)
                let result = try streamGeneration(client, request, echo: !daemon.json)
                if daemon.json { try printJSON(RunOutput(result)) } else { writeStreamed("\n") }
                history.append(ChatMessage(role: "assistant", content: result.text))
            }
        }
    }
}

/// What one streamed generation produced.
struct DaemonGeneration {
    var text = ""
    var tokens: [Int32] = []
    var logprobs: [GenerateChunk.TokenLogprob] = []
    var summary = GenerateSummary()
}

func streamGeneration(_ client: MoeClient, _ request: GenerateRequest, echo: Bool) throws -> DaemonGeneration {
    var result = DaemonGeneration()
    var progress = ProgressLine()
    let final = try client.call(.generate(request)) { response in
        if progress.handle(response) { return }
        progress.end()
        guard case .chunk(let chunk) = response.result else { return }
        result.text += chunk.text
        result.tokens += chunk.tokens
        result.logprobs += chunk.logprobs
        if echo { writeStreamed(chunk.text) }
    }
    progress.end()
    if case .summary(let summary) = final.result { result.summary = summary }
    return result
}

extension RunOutput {
    /// The same JSON shape as `moectl run --json`, from a daemon answer.
    init(_ g: DaemonGeneration) {
        let s = g.summary
        let evaluated = Double(s.promptTokens) - Double(min(s.cachedPromptTokens, s.promptTokens))
        prompt_tokens = s.promptTokenIDs
        tokens = g.tokens
        text = g.text
        finish_reason = s.finishReason
        context_shifts = Int(s.contextShifts)
        logprobs = g.logprobs.isEmpty ? nil : g.logprobs.map(LogprobJSON.init)
        timings = Timings(
            prompt_tokens: Int(s.promptTokens), prompt_seconds: s.promptSeconds,
            prompt_tokens_per_second: s.promptSeconds > 0 ? evaluated / s.promptSeconds : 0,
            generated_tokens: Int(s.completionTokens), generation_seconds: s.generationSeconds,
            generation_tokens_per_second: s.generationSeconds > 0 ? Double(s.completionTokens) / s.generationSeconds : 0,
            cached_prompt_tokens: Int(s.cachedPromptTokens))
    }
}

extension LogprobJSON {
    init(_ l: GenerateChunk.TokenLogprob) {
        self.init(id: l.token, logprob: l.logprob, piece: l.piece,
                  top: l.top.map { LogprobJSON(id: $0.token, logprob: $0.logprob, piece: $0.piece, top: nil) })
    }
}

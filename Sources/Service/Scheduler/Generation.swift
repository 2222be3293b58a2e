import GenerationCore
import Grammar
import Logging
import MoeAPI
import PluginHost

/// One generate call. The worker lane owns the model-side fields during
/// a step (sequence, positions, chooser); the loop owns the rest and only
/// touches model-side fields between steps. The rules themselves are
/// GenerationCore's, shared with `moectl run`.
final class Generation {
    let sink: ResponseSink
    let requestID: UInt64
    let request: GenerateRequest
    let options: GenerationOptions
    /// The compiled schema or grammar the output follows, if any.
    let grammar: Grammar?
    let enqueuedAt: Double
    var startedAt = 0.0
    var firstTokenAt = 0.0
    var lastTokenAt = 0.0

    // Model side (worker during a step).
    var chooser: TokenChooser
    var sequence: Int32 = -1
    var promptTokens: [Int32] = []
    /// Tokens evaluated in the sequence, in position order (a cached
    /// prefix, the prompt, then generated tokens; a context shift drops
    /// some): what the sequence's KV holds, and what the prefix cache
    /// matches later requests against.
    var context: [Int32] = []
    /// The prefix a context shift keeps (BOS, the system prompt).
    var keepTokens = 0
    /// Model side; the loop reads `reportedContextShifts`.
    var contextShifts = 0
    var pendingToken: Int32?
    var isPrepared = false
    /// Tokens sampled so far, the stop token included.
    var sampledTokens = 0
    /// Prompt tokens whose KV came from a cached sequence (prefix reuse).
    var cachedPromptTokens = 0
    /// False once an evaluation failed: the KV may then hold part of a
    /// batch, so the sequence is not kept for reuse.
    var kvIsTrusted = true

    /// Whether some of the prompt is still to evaluate (no token sampled yet).
    var isPrefilling: Bool { pendingToken == nil }

    /// What the next evaluation feeds: the prompt after its cached part and
    /// the chunks already evaluated — at most `limit` tokens of it (chunked
    /// prefill, `SchedulerEnvironment.prefillChunk`) — then one sampled
    /// token at a time. While prefilling, `context` is the prompt's
    /// evaluated prefix (a context shift only follows a sampled token).
    func tokensToEvaluate(limit: Int = .max) -> ArraySlice<Int32> {
        if let pendingToken { return [pendingToken] }
        let start = min(context.count, promptTokens.count)
        return promptTokens[start..<(start + min(max(1, limit), promptTokens.count - start))]
    }

    // Loop side.
    var isCancelled = false {
        didSet { if isCancelled { laneCancel.request() } }
    }
    /// Text-level tiers (Scheduler+Text): the cancel flag the generation's
    /// lane polls, the lane slot its call runs on, the text pieces
    /// received, and the backend's usage figures once it ended.
    let laneCancel = StepYield()
    var textSlot: Int?
    var textDeltas = 0
    var textUsage: (prompt: Int, completion: Int)?
    /// Its sequence is on the tier's list to remove (once).
    var isRetired = false
    var rules: GenerationRules
    /// Context shifts as the last outcome reported them.
    var reportedContextShifts = 0

    var maxTokens: Int { options.maxTokens }
    var completionTokens: Int { rules.tokenCount }

    init(sink: ResponseSink, requestID: UInt64, request: GenerateRequest, tier: TierSettings, grammar: Grammar? = nil, now: Double) {
        self.grammar = grammar
        self.sink = sink
        self.requestID = requestID
        self.request = request
        self.enqueuedAt = now
        let options = Self.options(request, tier: tier)
        self.options = options
        self.chooser = TokenChooser(options: options)
        self.rules = GenerationRules(options: options, endOfGeneration: [])
    }

    /// Joins the tier's active set: the model is known now, and with it
    /// the end-of-generation tokens.
    func start(on model: ModelBackend, now: Double) {
        startedAt = now
        rules = GenerationRules(options: options, endOfGeneration: model.info.endOfGeneration)
    }

    /// The tier's options with the request's overrides on top.
    static func options(_ r: GenerateRequest, tier: TierSettings) -> GenerationOptions {
        var options = tier.generation
        let o = r.sampling
        var p = options.sampling
        p.temperature = o.temperature ?? p.temperature
        p.topK = o.topK.map(Int.init) ?? p.topK
        p.topP = o.topP ?? p.topP
        p.minP = o.minP ?? p.minP
        p.repetitionPenalty = o.repeatPenalty ?? p.repetitionPenalty
        p.repetitionWindow = o.repeatLastN.map(Int.init) ?? p.repetitionWindow
        p.seed = o.seed ?? (tier.isSeedRandom ? UInt64.random(in: 0...UInt64.max) : p.seed)
        options.sampling = p
        if r.maxTokens > 0 { options.maxTokens = Int(r.maxTokens) }
        if !r.stop.isEmpty { options.stopStrings = r.stop }
        options.logprobs = r.logprobs.map(Int.init)
        options.contextShift = r.contextShift ?? options.contextShift
        options.structuredOutput = r.structuredOutput
        return options
    }

    /// `tier=` and `request=` (connection/call id, unique while moed runs) for its log lines.
    func logMetadata(tier: String) -> Logger.Metadata {
        ["tier": "\(tier)", "request": "\(sink.connectionID)/\(requestID)"]
    }
}

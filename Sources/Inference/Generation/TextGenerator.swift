import Foundation
import Tokenizer

/// Generates text for one sequence of a model: prompt in, tokens out,
/// streamed as text as soon as it is valid UTF-8 and clear of stop strings.
public struct TextGenerator {
    public let model: LanguageModel
    public let sequence: Int32

    public init(model: LanguageModel, sequence: Int32 = 0) {
        self.model = model
        self.sequence = sequence
    }

    /// Runs a generation from scratch. `onText` receives each new piece of
    /// text and returns false to stop early.
    public func generate(prompt: [Int32], options: GenerationOptions,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        let transformer = model.transformer
        guard !prompt.isEmpty else { throw InferenceError.badBatch("the prompt has no tokens") }
        transformer.cache.remove(sequence)
        var sampler = Sampler(options.sampling)
        prompt.forEach { sampler.accept($0) }
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        var stops = StopStringFilter(options.stopStrings)
        var timings = GenerationTimings()
        var tokens: [Int32] = []
        var text = ""
        var finish = FinishReason.length

        var clock = Stopwatch()
        var logits = try transformer.evaluate(BatchEntry.prompt(prompt, sequence: sequence))
        timings.promptTokens = prompt.count
        timings.promptSeconds = clock.lap()

        while tokens.count < options.maxTokens {
            let token = logits.withUnsafeBufferPointer { sampler.sample($0) }
            if model.tokenizer.isEndOfGeneration(token) { finish = .endOfGeneration; break }
            tokens.append(token)
            sampler.accept(token)
            let step = stops.feed(decoder.append(token))
            text += step.text
            if step.stopped { finish = .stopString; break }
            if !step.text.isEmpty && !onText(step.text) { finish = .cancelled; break }
            guard tokens.count < options.maxTokens else { break }
            let position = prompt.count + tokens.count - 1
            guard position < transformer.cache.contextLength else { finish = .contextFull; break }
            _ = clock.lap()
            logits = try transformer.evaluate([BatchEntry(token: token, position: position, sequence: sequence, wantsLogits: true)])
            timings.generationSeconds += clock.lap()
            timings.decodeSteps += 1
        }
        if finish != .stopString && finish != .cancelled {
            let tail = stops.feed(decoder.finish()).text + stops.finish()
            text += tail
            if !tail.isEmpty { _ = onText(tail) }
        }
        timings.generatedTokens = tokens.count
        return GenerationResult(promptTokens: prompt, tokens: tokens, text: text, finishReason: finish, timings: timings)
    }
}

/// Monotonic wall-clock laps.
struct Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    /// Seconds since the previous lap (or creation).
    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}

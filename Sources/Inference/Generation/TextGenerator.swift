import Foundation
import GenerationCore
import Grammar
import Tokenizer

/// Generates text for one sequence of a model, in-process (`moectl run`):
/// prompt in, tokens out, streamed as text as soon as it is whole UTF-8
/// and clear of stop strings. The rules (sampling, end of generation, stop
/// strings, max tokens, context full or shift, logprobs) are
/// GenerationCore's, the same the daemon applies; this loop only drives
/// the transformer.
public struct TextGenerator {
    public let model: LanguageModel
    public let sequence: Int32

    public init(model: LanguageModel, sequence: Int32 = 0) {
        self.model = model
        self.sequence = sequence
    }

    /// Runs a generation from scratch. `keep`: the prefix a context shift
    /// keeps (default: the BOS, if the prompt starts with it). `onText`
    /// receives each new piece of text and returns false to stop early.
    public func generate(prompt: [Int32], options: GenerationOptions, keep: Int? = nil,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        let transformer = model.transformer
        guard !prompt.isEmpty else { throw InferenceError.badBatch("the prompt has no tokens") }
        transformer.cache.remove(sequence)
        defer { transformer.cache.remove(sequence) }
        let window = ContextWindow(length: transformer.cache.contextLength, shifts: options.contextShift)
        let keep = keep ?? ContextWindow.keepCount(prompt: prompt, systemPart: nil, bos: model.tokenizer.bos)
        var chooser = TokenChooser(options: options)
        chooser.accept(prompt)
        if let structured = options.structuredOutput {
            let tokenizer = model.tokenizer
            let vocabulary = GrammarVocabulary.build(size: tokenizer.vocabularySize,
                                                     endOfGeneration: tokenizer.endOfGenerationTokens) { tokenizer.piece($0) }
            chooser.constrain(try structured.compile(), vocabulary: vocabulary)
        }
        var rules = GenerationRules(options: options, endOfGeneration: model.tokenizer.endOfGenerationTokens)
        var result = GenerationResult(promptTokens: prompt, tokens: [], text: "", finishReason: .length, timings: GenerationTimings())
        result.timings.promptTokens = prompt.count
        guard prompt.count <= window.length else {
            result.finishReason = .contextFull
            return result
        }

        var clock = Stopwatch()
        var context = prompt
        var logits = try transformer.evaluate(BatchEntry.prompt(prompt, sequence: sequence))
        result.timings.promptSeconds = clock.lap()
        while true {
            let choice = logits.withUnsafeBufferPointer { chooser.choose(from: $0) }
            let step = rules.accept(choice.token, bytes: model.tokenizer.piece(choice.token))
            if step.isOutput {
                result.tokens.append(choice.token)
                if let logprob = choice.logprob { result.logprobs.append(logprob) }
            }
            result.text += step.text
            if let finish = step.finish {
                if !step.text.isEmpty { _ = onText(step.text) }
                result.finishReason = finish
                break
            }
            if !step.text.isEmpty && !onText(step.text) {
                result.finishReason = .cancelled
                break
            }
            // The chosen token is evaluated next; a full context ends or shifts first.
            switch window.decide(context: context, adding: 1, keep: keep) {
            case .fits:
                break
            case .full:
                result.text += flushed(&rules, .contextFull, onText)
                result.finishReason = .contextFull
                return finished(result)
            case .shift(let kept):
                transformer.cache.remove(sequence)
                _ = try transformer.evaluate(BatchEntry.prompt(kept, sequence: sequence))
                context = kept
                result.contextShifts += 1
            }
            _ = clock.lap()
            logits = try transformer.evaluate([BatchEntry(token: choice.token, position: context.count, sequence: sequence, wantsLogits: true)])
            context.append(choice.token)
            result.timings.generationSeconds += clock.lap()
            result.timings.decodeSteps += 1
        }
        return finished(result)
    }

    private func flushed(_ rules: inout GenerationRules, _ reason: FinishReason, _ onText: (String) -> Bool) -> String {
        let tail = rules.end(reason)
        if !tail.isEmpty { _ = onText(tail) }
        return tail
    }

    private func finished(_ result: GenerationResult) -> GenerationResult {
        var result = result
        result.timings.generatedTokens = result.tokens.count
        return result
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

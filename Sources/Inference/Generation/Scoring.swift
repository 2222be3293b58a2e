import Foundation
import GenerationCore

/// How well a model predicts a text, computed the way llama.cpp's perplexity
/// tool does over one context: each position's log-probability of the token
/// that actually follows.
public struct ScoreResult: Sendable, Equatable {
    public var tokens: [Int32]
    /// `predictions[i]`: the most likely token after the first i+1 tokens.
    public var predictions: [Int32]
    /// `logprobs[i]`: log-probability of `tokens[i+1]` after the first i+1 tokens.
    public var logprobs: [Double]

    /// exp(−mean(logprobs)).
    public var perplexity: Double {
        guard !logprobs.isEmpty else { return .nan }
        return exp(-logprobs.reduce(0, +) / Double(logprobs.count))
    }
}

extension LanguageModel {
    /// Scores `tokens` as one sequence. `onLogits` sees every position's
    /// logits (position, row) before they are discarded.
    public func score(_ tokens: [Int32], sequence: Int32 = 0,
                      onLogits: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil) throws -> ScoreResult {
        guard tokens.count >= 2 else { throw InferenceError.badBatch("scoring needs at least two tokens") }
        transformer.cache.remove(sequence)
        defer { transformer.cache.remove(sequence) }
        let vocabulary = transformer.vocabularySize
        var result = ScoreResult(tokens: tokens, predictions: [], logprobs: [])
        // Chunks bound the logits held at once (chunk × vocabulary floats).
        let chunk = transformer.options.maxBatch
        var start = 0
        while start < tokens.count {
            let part = Array(tokens[start..<min(start + chunk, tokens.count)])
            let logits = try transformer.evaluate(BatchEntry.prompt(part, sequence: sequence, start: start, allLogits: true))
            logits.withUnsafeBufferPointer { all in
                for i in 0..<part.count {
                    let row = UnsafeBufferPointer(rebasing: all[(i * vocabulary)..<((i + 1) * vocabulary)])
                    let position = start + i
                    onLogits?(position, row)
                    result.predictions.append(Sampler.argmax(row))
                    if position + 1 < tokens.count {
                        result.logprobs.append(logProbability(of: Int(tokens[position + 1]), in: row))
                    }
                }
            }
            start += part.count
        }
        return result
    }
}

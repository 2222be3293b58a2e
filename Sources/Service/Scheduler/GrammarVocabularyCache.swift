import Foundation
import GenerationCore
import Grammar

/// A tier's vocabulary as grammars read it: every token's bytes, asked of
/// the plugin once per loaded model (one `detokenize` per token) the first
/// time a structured-output request runs, then shared by all of them.
/// Built and read on the tier's lane; the lock only guards a model swap.
final class GrammarVocabularyCache: @unchecked Sendable {
    private let lock = NSLockLite()
    private weak var model: AnyObject?
    private var vocabulary: GrammarVocabulary?

    func vocabulary(for model: ModelBackend) throws -> GrammarVocabulary {
        lock.lock()
        defer { lock.unlock() }
        if let vocabulary, self.model === model { return vocabulary }
        let built = try GrammarVocabulary.build(size: model.info.vocabularySize, endOfGeneration: model.info.endOfGeneration) {
            try model.detokenize([$0])
        }
        self.model = model
        vocabulary = built
        return built
    }
}

import PluginHost

/// A plugin's model together with the file moed saw it load: everything
/// is the plugin's, except the file checks the scheduler makes between
/// steps (see `ModelFile`).
final class WatchedModel: ModelBackend {
    private let model: ModelBackend
    private let file: ModelFile

    init(_ model: ModelBackend, file: ModelFile) {
        self.model = model
        self.file = file
    }

    func fileCheckpoint() -> UInt64 { file.faultCount() }
    func fileProblem(since checkpoint: UInt64) -> String? { file.problem(since: checkpoint) }

    var info: ModelInfo { model.info }
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        try model.tokenize(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }
    func detokenize(_ tokens: [Int32]) throws -> [UInt8] { try model.detokenize(tokens) }
    func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        try model.renderChat(turns, addGenerationPrompt: addGenerationPrompt)
    }
    func createSequence() throws -> Int32 { try model.createSequence() }
    func removeSequence(_ sequence: Int32) throws { try model.removeSequence(sequence) }
    func clearSequence(_ sequence: Int32) throws { try model.clearSequence(sequence) }
    func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] { try model.evaluate(items) }
    func expertStatistics() throws -> [UInt64] { try model.expertStatistics() }
    func routingEntropy() throws -> [Double] { try model.routingEntropy() }
    var canEditSequences: Bool { model.canEditSequences }
    func truncateSequence(_ sequence: Int32, to count: Int) throws { try model.truncateSequence(sequence, to: count) }
    func copySequence(_ source: Int32, to destination: Int32, count: Int) throws {
        try model.copySequence(source, to: destination, count: count)
    }
    func sequenceBytes(_ sequence: Int32) throws -> UInt64 { try model.sequenceBytes(sequence) }
    func memoryUsage() throws -> MemoryUsage? { try model.memoryUsage() }
    func sequenceBytes(positions: Int) throws -> UInt64? { try model.sequenceBytes(positions: positions) }
    var generatesText: Bool { model.generatesText }
    func generateText(_ request: TextRequest, onDelta: @escaping (String) -> Bool,
                      isCancelled: @escaping () -> Bool) throws -> TextResult {
        try model.generateText(request, onDelta: onDelta, isCancelled: isCancelled)
    }
    func close() { model.close() }
}

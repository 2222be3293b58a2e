import Testing
import TestSupport
@testable import PluginHost

/// The daemon stops where `moectl run` stops: the dense plugin reports its
/// tokenizer's whole end-of-generation set through `context_end_tokens`,
/// not just eos and eot.
@Suite("End-of-generation set through the plugin ABI")
struct EndOfGenerationTests {
    @Test("the dense plugin reports <|endoftext|> as well as the eos <|im_end|>")
    func denseReportsWholeSet() throws {
        let plugin = try PluginLoader().load(path: TestPaths.plugin("dense"))
        let path = try SyntheticModel().write(named: "plugin-eog")
        let model = try plugin.open(OpenParameters(path: path, contextLength: 64, maxSequences: 1))
        defer { model.close() }
        let vocabulary = SyntheticVocabulary()
        #expect(model.info.eosToken == vocabulary.imEnd)
        #expect(model.info.endOfGeneration == [vocabulary.endOfText, vocabulary.imEnd])
    }

    @Test("a plugin without the entry falls back to eos and eot")
    func fallback() throws {
        let plugin = try PluginLoader().load(path: TestPaths.plugin("toy"))
        #expect(plugin.api.pointee.context_end_tokens == nil)
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("hello")))
        #expect(model.info.endOfGeneration == [257])
    }
}

import Testing
@testable import PluginHost

@Suite("Calling a loaded plugin")
struct PluginModelTests {
    let plugin: Plugin

    init() throws {
        plugin = try PluginLoader().load(path: TestPaths.plugin("toy"))
    }

    @Test("the estimate comes before open and counts the declared bytes")
    func estimate() throws {
        let path = TestPaths.temporaryFile("#toy bytes=5000\nabc")
        let estimate = try plugin.estimate(OpenParameters(path: path, contextLength: 10, maxSequences: 2))
        #expect(estimate.weightBytes == 5000)
        #expect(estimate.totalBytes == 5000 + 10 * 16 * 2 + 1024)
    }

    @Test("open reports progress ending at one and describes the model")
    func openProgress() throws {
        var fractions: [Float] = []
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("hello")), progress: { fractions.append($0) })
        #expect(fractions.last == 1)
        #expect(fractions == fractions.sorted())
        #expect(model.info.vocabularySize == 258)
        #expect(model.info.endOfGeneration == [257])
    }

    @Test("a failed open fires no progress and carries the plugin's message")
    func failedOpen() {
        var calls = 0
        #expect(throws: PluginCallError.self) {
            _ = try plugin.open(OpenParameters(path: "/nonexistent/model"), progress: { _ in calls += 1 })
        }
        #expect(calls == 0)
        do {
            _ = try plugin.open(OpenParameters(path: "/nonexistent/model"))
        } catch let error as PluginCallError {
            #expect(error.operation == "open")
            #expect(error.message.contains("/nonexistent/model"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("tokenize and detokenize round-trip, growing buffers as needed")
    func roundTrip() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("x")))
        let text = String(repeating: "héllo ", count: 50)
        let tokens = try model.tokenize(text, addSpecial: true, parseSpecial: false)
        #expect(tokens.first == 256)
        #expect(tokens.count == text.utf8.count + 1)
        #expect(try model.detokenize(tokens) == Array(text.utf8))
    }

    @Test("evaluate returns one row per wanted item and checks positions")
    func evaluate() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("abcd")))
        let sequence = try model.createSequence()
        let rows = try model.evaluate([
            BatchItem(token: 256, position: 0, sequence: sequence, wantsLogits: false),
            BatchItem(token: 97, position: 1, sequence: sequence, wantsLogits: true),
        ])
        #expect(rows.count == 1)
        // After position 1 the toy predicts text[2] = "c".
        #expect(rows[0].indices.max { rows[0][$0] < rows[0][$1] } == 99)
        #expect(throws: PluginCallError.self) {
            _ = try model.evaluate([BatchItem(token: 1, position: 5, sequence: sequence, wantsLogits: true)])
        }
        try model.removeSequence(sequence)
        #expect(throws: PluginCallError.self) { try model.clearSequence(sequence) }
    }

    @Test("several wanted rows come back in item order, each a whole row of the one buffer")
    func evaluateSeveralRows() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("abcd")))
        let sequence = try model.createSequence()
        let rows = try model.evaluate([
            BatchItem(token: 256, position: 0, sequence: sequence, wantsLogits: true),
            BatchItem(token: 97, position: 1, sequence: sequence, wantsLogits: true),
        ])
        try #require(rows.count == 2)
        #expect(rows.allSatisfy { $0.count == model.info.vocabularySize })
        // The toy predicts text[p + 1] after position p: "b", then "c".
        let best = rows.map { row in row.indices.max { row[$0] < row[$1] }.map { $0 - row.startIndex } }
        #expect(best == [98, 99])
        try model.removeSequence(sequence)
    }

    @Test("chat rendering goes through the plugin's template")
    func chat() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("x")))
        let text = try model.renderChat([ChatTurn(role: "user", content: "hi")], addGenerationPrompt: true)
        #expect(text == "user: hi\nassistant: ")
    }

    @Test("a closed model refuses calls instead of crashing")
    func closed() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("x")))
        model.close()
        model.close()
        #expect(throws: PluginCallError.self) { _ = try model.createSequence() }
    }
}

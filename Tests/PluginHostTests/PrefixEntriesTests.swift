import CMoePlugin
import Testing
@testable import PluginHost

@Suite("The optional prefix-reuse entries of the table")
struct PrefixEntriesTests {
    let plugin: Plugin

    init() throws {
        plugin = try PluginLoader().load(path: TestPaths.plugin("toy"))
    }

    @Test("the ABI 1 table ends where the first optional entry begins")
    func requiredSize() throws {
        let offset = try #require(MemoryLayout<moe_plugin_api>.offset(of: \moe_plugin_api.sequence_truncate))
        #expect(PluginTable.requiredSize == offset)
        #expect(offset < MemoryLayout<moe_plugin_api>.size)
    }

    @Test("a table built against the ABI 1 header loads, reads its missing entries as NULL, and offers no reuse")
    func olderTable() throws {
        // The toy's table cut to its ABI 1 length: as an older plugin ships it.
        var short = try #require(plugin.api.pointee)
        short.struct_size = UInt32(PluginTable.requiredSize)
        let copy = withUnsafePointer(to: &short) { PluginTable.hostCopy(of: $0) }
        #expect(copy.pointee.struct_size == UInt32(PluginTable.requiredSize))
        #expect(copy.pointee.sequence_truncate == nil && copy.pointee.sequence_copy == nil && copy.pointee.sequence_bytes == nil)
        #expect(copy.pointee.close != nil)
        #expect(SequenceEditing(copy) == nil)
        #expect(SequenceEditing(plugin.api) != nil)
    }

    @Test("truncate, copy and bytes act on the sequence's positions")
    func editing() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("abcdef")))
        #expect(model.canEditSequences)
        let a = try model.createSequence()
        _ = try model.evaluate((0..<5).map { BatchItem(token: 97, position: $0, sequence: a, wantsLogits: $0 == 4) })
        #expect(try model.sequenceBytes(a) == 5 * 16)
        try model.truncateSequence(a, to: 3)
        #expect(try model.sequenceBytes(a) == 3 * 16)
        let b = try model.createSequence()
        try model.copySequence(a, to: b, count: 2)
        // b continues at position 2; a at 3: the toy checks positions.
        _ = try model.evaluate([BatchItem(token: 97, position: 2, sequence: b, wantsLogits: true),
                                BatchItem(token: 97, position: 3, sequence: a, wantsLogits: true)])
        let beyond = #expect(throws: PluginCallError.self) { try model.truncateSequence(a, to: 9) }
        #expect(beyond?.code == MOE_ERR_INVALID_ARGUMENT.rawValue)
        #expect(throws: PluginCallError.self) { try model.copySequence(a, to: 99, count: 1) }
    }

    @Test("a model whose plugin answers UNSUPPORTED says so through the error")
    func unsupported() throws {
        let model = try plugin.open(OpenParameters(path: TestPaths.temporaryFile("#toy prefix=0\nabc")))
        let a = try model.createSequence()
        let error = #expect(throws: PluginCallError.self) { try model.sequenceBytes(a) }
        #expect(error?.code == MOE_ERR_UNSUPPORTED.rawValue)
    }
}

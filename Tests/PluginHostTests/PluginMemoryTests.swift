import CMoePlugin
import Testing
import TestSupport
@testable import PluginHost

/// The kv_type open parameter and the optional memory_* entries, through
/// the real dense plugin on small models made in code.
@Suite("Plugin memory figures and KV cache types")
struct PluginMemoryTests {
    /// Heads 32 wide (embedding 128, 4 heads; 2 kv heads): Q8_0 fits them.
    static func model(embedding: Int = 128, tag: String) throws -> String {
        var m = SyntheticModel()
        m.embedding = embedding
        return try m.write(named: "plugin-memory-\(embedding)-\(tag)")  // a file per test: they run in parallel
    }

    @Test("a plugin without the memory entries says nothing, and the host falls back")
    func toyOffersNone() throws {
        let toy = try PluginLoader().load(path: TestPaths.plugin("toy"))
        let model = try toy.open(OpenParameters(path: TestPaths.temporaryFile("abc")))
        #expect(try model.memoryUsage() == nil)
        #expect(try model.sequenceBytes(positions: 100) == nil)
    }

    @Test("the dense plugin reports KV as it grows, in the asked type", arguments: [
        (KVCacheKind.f16, 2 * 64), (.q8_0, 2 * 34), (.f32, 4 * 64),
    ])
    func kvGrows(kind: KVCacheKind, rowBytes: Int) throws {
        let dense = try PluginLoader().load(path: TestPaths.plugin("dense"))
        let parameters = OpenParameters(path: try Self.model(tag: kind.description), contextLength: 128, threads: 1, kvType: kind)
        let estimate = try dense.estimate(parameters)
        let layers = 2, kvWidth = 64  // 2 kv heads of 32
        #expect(estimate.cacheBytes == UInt64(2 * layers * rowBytes * kvWidth / 64 * 128))  // one sequence, full context
        let model = try dense.open(parameters)
        let idle = try #require(try model.memoryUsage())
        #expect(idle.cacheBytes == 0 && idle.weightBytes > 0 && idle.scratchBytes > 0)
        let sequence = try model.createSequence()
        _ = try model.evaluate((0..<3).map { BatchItem(token: 72 + Int32($0), position: Int32($0), sequence: sequence, wantsLogits: $0 == 2) })
        let used = try #require(try model.memoryUsage())
        let perBlock = UInt64(2 * layers * rowBytes * kvWidth / 64 * 64)  // the first block holds 64 positions
        #expect(used.cacheBytes == perBlock)
        #expect(try model.sequenceBytes(positions: 3) == perBlock)
        #expect(try model.sequenceBytes(positions: 128) == 2 * perBlock)
        try model.removeSequence(sequence)
        #expect(try #require(try model.memoryUsage()).cacheBytes == 0)
    }

    @Test("Q8_0 is refused, naming why, for heads that are not whole blocks")
    func q8NeedsWholeBlocks() throws {
        let dense = try PluginLoader().load(path: TestPaths.plugin("dense"))
        let parameters = OpenParameters(path: try Self.model(embedding: 64, tag: "narrow"), contextLength: 64, threads: 1, kvType: .q8_0)
        for call in [{ _ = try dense.estimate(parameters) }, { _ = try dense.open(parameters) }] {
            #expect {
                try call()
            } throws: { error in
                guard let error = error as? PluginCallError else { return false }
                return error.code == MOE_ERR_UNSUPPORTED.rawValue && error.message.contains("multiple of 32")
            }
        }
    }
}

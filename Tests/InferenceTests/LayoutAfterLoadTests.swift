import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

/// A large file's interleaved layout made after the model is ready
/// (`ModelOptions.repackAfterLoadBytes`, `LayoutPreparation`): the model
/// serves from the mapped weights meanwhile, each matrix's copy is swapped
/// in whole between passes, and the logits are those of either layout.
@Suite("Layout prepared after load")
struct LayoutAfterLoadTests {
    static func load(afterLoadBytes: Int, threads: Int = 1, repacking: Bool = true) throws -> Transformer {
        var model = SyntheticModel()
        model.weightType = .q4_1
        // two layers, as RepackTests: with more, a rounding of the
        // quantized activations that flips between the layouts' summation
        // orders grows past the bound on some steps
        let file = try GGUFFile(path: try model.write(named: "layout-after-load"))
        return try Transformer(file: file, options: ModelOptions(threads: threads, maxBatch: 64, repacksWeights: repacking,
                                                                 kvType: .f32, repackAfterLoadBytes: afterLoadBytes))
    }

    /// Every dense matrix's layout; never empty, or "all interleaved" would pass vacuously.
    static func layouts(_ t: Transformer) throws -> [WeightLayout] {
        let layouts = t.layers.flatMap { layer -> [WeightLayout] in
            guard case .dense(let ffn) = layer.feedForward else { return [] }
            return [layer.query, layer.key, layer.value, layer.output, ffn.gate, ffn.up, ffn.down].map(\.layout)
        }
        try #require(!layouts.isEmpty, "the model has no dense layers")
        return layouts
    }

    @Test("a small file is repacked during the load, a large one after it, to the same layout")
    func layoutEndsTheSame() throws {
        let atLoad = try Self.load(afterLoadBytes: 256 << 20)
        #expect(atLoad.layoutPendingMatrices == 0)
        #expect(try Self.layouts(atLoad).allSatisfy { $0 == .interleaved8 })
        let after = try Self.load(afterLoadBytes: 0)
        // the memory figure taken at ready bounds what the model will hold
        let atReady = after.weightBytes
        after.waitForLayout()
        #expect(atReady >= after.copies.bytes)
        #expect(after.layoutPendingMatrices == 0)
        #expect(try Self.layouts(after) == Self.layouts(atLoad))
        // the copies are counted once, as at load
        #expect(after.copies.bytes == atLoad.copies.bytes)
        #expect(after.copies.bytes > 0)
    }

    @Test("decoding while the copies are swapped in gives the mapped weights' logits", arguments: [1, 2])
    func logitsWhileSwapping(threads: Int) throws {
        let mapped = try Self.load(afterLoadBytes: 0, threads: threads, repacking: false)
        let changing = try Self.load(afterLoadBytes: 0, threads: threads)
        let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119]
        var a = try changing.evaluate(BatchEntry.prompt(prompt))
        var b = try mapped.evaluate(BatchEntry.prompt(prompt))
        #expect(RepackTests.difference(a, b) <= 1e-4)
        // fixed tokens, so both models see the same inputs whatever they pick
        for step in 0..<24 {
            let entry = [BatchEntry(token: Int32(65 + step), position: prompt.count + step, wantsLogits: true)]
            a = try changing.evaluate(entry)
            b = try mapped.evaluate(entry)
            #expect(RepackTests.difference(a, b) <= 1e-4, "step \(step), \(changing.layoutPendingMatrices) matrices pending")
        }
        changing.waitForLayout()
        #expect(try Self.layouts(changing).allSatisfy { $0 == .interleaved8 })
        let entry = [BatchEntry(token: 70, position: prompt.count + 24, wantsLogits: true)]
        #expect(RepackTests.difference(try changing.evaluate(entry), try mapped.evaluate(entry)) <= 1e-4)
    }

    @Test("a model dropped while its layout is prepared stops the copying")
    func droppedWhilePreparing() throws {
        var model: Transformer? = try Self.load(afterLoadBytes: 0)
        let layout = try #require(model?.layout)
        model = nil
        layout.wait()  // returns: the thread stopped (cancelled) or finished
        #expect(model == nil)
    }
}


import Foundation
import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

/// Routed experts are repacked into the interleaved layout on their first
/// pick (ExpertBank), not at load: the logits are those of the mapped
/// experts, and an expert no token picks is neither repacked nor read.
@Suite("MoE experts repacked on first use")
struct ExpertRepackTests {
    static let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119, 111, 114, 108, 100]

    /// Q4_1 experts with rows a multiple of eight, so every expert can be repacked.
    static func model(_ base: SyntheticModel = .olmoe(experts: 64, used: 2)) -> SyntheticModel {
        var m = base
        m.weightType = .q4_1
        return m
    }

    /// First-pick repacking only, unless `preparing`: then the layout
    /// thread repacks the experts not yet picked once the model is ready.
    static func load(_ path: String, repacking: Bool, threads: Int = 1, preparing: Bool = false) throws -> Transformer {
        try Transformer(file: GGUFFile(path: path),
                        options: ModelOptions(threads: threads, maxBatch: 64, repacksWeights: repacking, kvType: .f32,
                                              preparesExperts: preparing))
    }

    /// The model's expert banks; never empty, or every "all banks …" check would pass vacuously.
    static func banks(_ t: Transformer) throws -> [ExpertBank] {
        let banks = t.layers.compactMap { layer -> ExpertBank? in
            guard case .experts(let moe) = layer.feedForward else { return nil }
            return moe.experts
        }
        try #require(!banks.isEmpty, "the model has no MoE layers")
        return banks
    }

    /// Whether exactly the experts the router has picked so far are repacked, in every layer.
    static func repackedArePicked(_ t: Transformer) throws -> Bool {
        let stats = try #require(t.expertStatistics)
        let banks = try Self.banks(t)
        // Empty or mismatched lists would make the check below vacuously true.
        try #require(!banks.isEmpty && banks.count == stats.layers.count)
        return zip(banks, stats.layers).allSatisfy { bank, layer in
            layer.selections.indices.allSatisfy { bank.isRepacked($0) == (layer.selections[$0] > 0) }
        }
    }

    @Test("Q4_1 experts repacked as they are first picked give the mapped experts' logits", arguments: [1, 2])
    func sameLogits(threads: Int) throws {
        let path = try Self.model().write(named: "moe-repack-q4_1")
        let repacked = try Self.load(path, repacking: true, threads: threads)
        let mapped = try Self.load(path, repacking: false, threads: threads)
        #expect(try Self.banks(repacked).allSatisfy { $0.repackedCount == 0 }, "no expert is repacked at load")

        var a = try repacked.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        var b = try mapped.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        #expect(try Self.repackedArePicked(repacked))
        let afterPrompt = try Self.banks(repacked).map(\.repackedCount)
        // fixed tokens, so both models follow the same path whatever near ties do
        for step in 0..<8 {
            let entry = [BatchEntry(token: Int32(65 + 7 * step), position: Self.prompt.count + step, wantsLogits: true)]
            a += try repacked.evaluate(entry)
            b += try mapped.evaluate(entry)
        }
        #expect(try Self.repackedArePicked(repacked))
        let atEnd = try Self.banks(repacked).map(\.repackedCount)
        #expect(zip(afterPrompt, atEnd).contains { $0 < $1 }, "decoding picked no new expert: nothing was repacked mid-run")
        #expect(atEnd.allSatisfy { $0 < 64 }, "every expert was picked: the test shows nothing about unpicked ones")
        #expect(try Self.banks(mapped).allSatisfy { $0.repackedCount == 0 })
        #expect(a.count == b.count)
        #expect(RepackTests.difference(a, b) <= 1e-4, "threads \(threads)")
    }

    @Test("prepareExperts repacks every expert up front; the logits stay those of the mapped experts")
    func prepareAll() throws {
        let path = try Self.model().write(named: "moe-repack-prepare")
        let prepared = try Self.load(path, repacking: true, threads: 2)
        let mapped = try Self.load(path, repacking: false, threads: 2)
        #expect(try prepared.prepareExperts() == 64 * Self.banks(prepared).count)
        #expect(try Self.banks(prepared).allSatisfy { $0.repackedCount == 64 })
        #expect(prepared.prepareExperts() == 0, "a second call has nothing left to do")
        #expect(mapped.prepareExperts() == 0, "with repacking off nothing is repacked")
        let a = try prepared.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        let b = try mapped.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        #expect(a.count == b.count)
        #expect(RepackTests.difference(a, b) <= 1e-4)
    }

    @Test("The layout thread repacks every expert after load while the model evaluates; logits stay the mapped experts'",
          arguments: [1, 2])
    func preparedAfterLoad(threads: Int) throws {
        let path = try Self.model().write(named: "moe-repack-after-load")
        let prepared = try Self.load(path, repacking: true, threads: threads, preparing: true)
        let mapped = try Self.load(path, repacking: false, threads: threads)
        // evaluated at once, racing the layout thread: every pass sees each
        // expert whole, in one layout or the other
        var a = try prepared.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        var b = try mapped.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        for step in 0..<8 {
            let entry = [BatchEntry(token: Int32(65 + 7 * step), position: Self.prompt.count + step, wantsLogits: true)]
            a += try prepared.evaluate(entry)
            b += try mapped.evaluate(entry)
        }
        prepared.waitForLayout()
        #expect(try Self.banks(prepared).allSatisfy { $0.repackedCount == 64 }, "every expert repacked, picked or not")
        #expect(prepared.prepareExperts() == 0, "nothing left for an explicit call")
        // and a step with every expert in the interleaved layout
        let entry = [BatchEntry(token: 66, position: Self.prompt.count + 8, wantsLogits: true)]
        a += try prepared.evaluate(entry)
        b += try mapped.evaluate(entry)
        #expect(a.count == b.count)
        #expect(RepackTests.difference(a, b) <= 1e-4, "threads \(threads)")
    }

    @Test("The shared expert is repacked at load with the dense matrices; its model's logits match")
    func sharedExpert() throws {
        let path = try Self.model(.qwen2MoE()).write(named: "moe-repack-shared")
        let repacked = try Self.load(path, repacking: true)
        guard case .experts(let moe) = try #require(repacked.layers.first).feedForward else {
            Issue.record("no experts")
            return
        }
        let shared = try #require(moe.shared)
        #expect([shared.gate, shared.up, shared.down].allSatisfy { $0.layout == .interleaved8 })
        #expect(moe.experts.repackedCount == 0)
        let mapped = try Self.load(path, repacking: false)
        let a = try repacked.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        let b = try mapped.evaluate(BatchEntry.prompt(Self.prompt, allLogits: true))
        #expect(moe.experts.repackedCount > 0)
        #expect(try Self.repackedArePicked(repacked))
        #expect(RepackTests.difference(a, b) <= 1e-4)
    }

    @Test("An expert no token picks is neither repacked nor read: poisoning it with NaN changes nothing")
    func unpickedExpertsStayCold() throws {
        let model = Self.model()
        let path = try model.write(named: "moe-repack-poison")
        let clean = try Self.load(path, repacking: true)
        let before = try clean.evaluate(BatchEntry.prompt(Self.prompt))
        // Every token routed to every expert: the logits of a model that reads them all.
        let everyExpert = try Self.load(path, repacking: true)
        try everyExpert.setExpertsUsed(64)
        let everyBefore = try everyExpert.evaluate(BatchEntry.prompt(Self.prompt))
        let stats = try #require(clean.expertStatistics)
        let file = try GGUFFile(path: path)
        var poisoned = 0
        for (l, layer) in stats.layers.enumerated() {
            for (e, n) in layer.selections.enumerated() where n == 0 {
                #expect(try !Self.banks(clean)[l].isRepacked(e))
                for kind in ["gate", "up", "down"] {
                    try poison(file, path: path, tensor: "blk.\(l).ffn_\(kind)_exps.weight", slice: e, of: 64)
                }
                poisoned += 1
            }
        }
        #expect(poisoned > 60)
        let after = try Self.load(path, repacking: true)
        #expect(try after.evaluate(BatchEntry.prompt(Self.prompt)) == before, "logits changed after poisoning unpicked experts")
        // The poison is real: a model that reads every expert now gives other
        // logits. (Not necessarily NaN: quantizing activations for the next
        // Q4_1 product turns NaN into finite values.)
        let everyAfter = try Self.load(path, repacking: true)
        try everyAfter.setExpertsUsed(64)
        #expect(try everyAfter.evaluate(BatchEntry.prompt(Self.prompt)) != everyBefore)
        #expect(try Self.banks(everyAfter).allSatisfy { $0.repackedCount == 64 })
    }

    /// Fills one expert's slice of a stacked Q4_1 tensor with 0xFF bytes: every
    /// block's F16 scale and minimum become NaN.
    private func poison(_ file: GGUFFile, path: String, tensor name: String, slice: Int, of count: Int) throws {
        let t = try #require(file.tensor(named: name))
        let bytes = t.byteCount / count
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(t.offset + slice * bytes))   // offsets are absolute
        handle.write(Data(repeating: 0xFF, count: bytes))
    }
}

import GGUF
import Kernels
import Testing
import TestSupport
@testable import Inference

@Suite("Decode attention by GQA group in the model")
struct AttentionTasksTests {
    /// Parts per (row, KV head) of the tasks, and whether any head task is there.
    private func shape(_ tasks: [AttentionTask]) -> (parts: [Int], heads: Int) {
        var parts: [Int] = [], heads = 0
        for task in tasks {
            switch task {
            case .head: heads += 1
            case let .group(_, _, part, count, _): if part == 0 { parts.append(count) }
            }
        }
        return (parts, heads)
    }

    @Test("one decode row over few KV heads is cut into parts for two threads, when it has the rows for them")
    func splitsALoneRow() {
        let long = Transformer.attentionTasks([0..<1], lengths: [200], heads: 9, kvHeads: 3, groups: true, threads: 2)
        #expect(shape(long.tasks).parts == [2, 2, 2] && long.slots == 6)
        let short = Transformer.attentionTasks([0..<1], lengths: [100], heads: 9, kvHeads: 3, groups: true, threads: 2)
        #expect(shape(short.tasks).parts == [1, 1, 1] && short.slots == 0)
        let oneThread = Transformer.attentionTasks([0..<1], lengths: [500], heads: 9, kvHeads: 3, groups: true, threads: 1)
        #expect(shape(oneThread.tasks).parts == [1, 1, 1])
    }

    @Test("four decode rows go whole by KV head; a prompt block beside them goes head by head")
    func batchesAndPrompts() {
        let four = Transformer.attentionTasks([0..<1, 1..<2, 2..<3, 3..<4], lengths: [300, 300, 300, 300], heads: 9,
                                              kvHeads: 3, groups: true, threads: 2)
        #expect(shape(four.tasks).parts == Array(repeating: 1, count: 12) && shape(four.tasks).heads == 0)
        let mixed = Transformer.attentionTasks([0..<4, 4..<5], lengths: [10, 11, 12, 13, 300], heads: 9, kvHeads: 3,
                                               groups: true, threads: 2)
        #expect(shape(mixed.tasks).parts == [1, 1, 1] && shape(mixed.tasks).heads == 9)
        let off = Transformer.attentionTasks([0..<1], lengths: [300], heads: 9, kvHeads: 3, groups: false, threads: 2)
        #expect(shape(off.tasks).heads == 9 && shape(off.tasks).parts.isEmpty)
    }

    @Test("decoding over an F16 cache: two threads give one thread's logits, bit for bit until rows go in parts")
    func partsMatchWhole() throws {
        var model = SyntheticModel()
        model.embedding = 96
        model.heads = 6
        model.kvHeads = 2  // groups of three, heads of 16
        let file = try GGUFFile(path: try model.write())
        let one = try Transformer(file: file, options: ModelOptions(threads: 1, kvType: .f16))
        let two = try Transformer(file: file, options: ModelOptions(threads: 2, kvType: .f16))
        let prompt: [Int32] = [72, 101, 108, 108, 111, 260, 32, 119]
        var a = try one.evaluate(BatchEntry.prompt(prompt)), b = try two.evaluate(BatchEntry.prompt(prompt))
        var whole: Float = 0, parts: Float = 0, scale: Float = 0
        for position in prompt.count..<200 {
            let token = Int32(40 + position % 50)
            a = try one.evaluate([BatchEntry(token: token, position: position, wantsLogits: true)])
            b = try two.evaluate([BatchEntry(token: token, position: position, wantsLogits: true)])
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            scale = max(scale, a.map { abs($0) }.max()!)
            // 128 attended rows make two parts of 64 (Transformer.minimumPartRows)
            if position + 1 < 2 * Transformer.minimumPartRows { whole = max(whole, worst) } else { parts = max(parts, worst) }
        }
        #expect(whole == 0, "before the split: max |two threads − one thread| = \(whole)")
        // Merged parts round differently; through the F16 cache rows the steps
        // after store, a last-bit change grows to an F16 rounding step (~5e-4).
        #expect((parts > 0 || !Transformer.groupsDecodeAttention) && parts <= 1e-3 * scale,
                "max |two threads − one thread| = \(parts), logits up to \(scale)")
    }
}

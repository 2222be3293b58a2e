import Testing
@testable import Inference

/// How attention splits a layer's heads into tasks (`Transformer.attend`):
/// whole GQA groups, so each cached row is read once per group, unless
/// that leaves the threads without work to share.
@Suite("Attention tasks by runs of query heads")
struct AttentionRunTests {
    @Test("whole groups on one thread and for several streams; halved for one stream on two threads")
    func runs() {
        #expect(Transformer.headsPerRun(group: 3, tasks: 3, threads: 1) == 3)   // SmolLM2, one stream, one thread
        #expect(Transformer.headsPerRun(group: 3, tasks: 12, threads: 2) == 3)  // four streams
        #expect(Transformer.headsPerRun(group: 3, tasks: 3, threads: 2) == 2)   // one stream: 6 tasks
        #expect(Transformer.headsPerRun(group: 8, tasks: 4, threads: 2) == 8)   // the 1.5B: 4 KV heads
        #expect(Transformer.headsPerRun(group: 7, tasks: 2, threads: 2) == 4)   // Qwen 0.5B: 2 KV heads
        #expect(Transformer.headsPerRun(group: 1, tasks: 9, threads: 2) == 1)   // no GQA
        #expect(Transformer.headsPerRun(group: 4, tasks: 1, threads: 8) == 1)
    }
}

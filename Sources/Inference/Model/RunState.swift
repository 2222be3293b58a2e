/// Activation buffers for one forward pass of up to `maxBatch` tokens,
/// allocated once per model and reused for every batch.
final class RunState {
    let maxBatch: Int
    let ropePairs: Int
    let x: UnsafeMutablePointer<Float>           // residual stream   [batch × embedding]
    let normed: UnsafeMutablePointer<Float>      // normalised input  [batch × embedding]
    let q: UnsafeMutablePointer<Float>           // queries           [batch × heads × headSize]
    let k: UnsafeMutablePointer<Float>           // keys              [batch × kvHeads × headSize]
    let v: UnsafeMutablePointer<Float>           // values            [batch × kvHeads × headSize]
    let attention: UnsafeMutablePointer<Float>   // attention output  [batch × heads × headSize]
    let blockOutput: UnsafeMutablePointer<Float> // block output      [batch × embedding]
    let gate: UnsafeMutablePointer<Float>        // FFN gate          [batch × hidden]
    let up: UnsafeMutablePointer<Float>          // FFN up            [batch × hidden]
    let cos: UnsafeMutablePointer<Float>         // RoPE cos          [batch × ropeDimensions/2]
    let sin: UnsafeMutablePointer<Float>         // RoPE sin          [batch × ropeDimensions/2]
    let localCos: UnsafeMutablePointer<Float>    // RoPE of sliding-window layers when it differs (Gemma 3)
    let localSin: UnsafeMutablePointer<Float>
    private var all: [UnsafeMutablePointer<Float>] = []
    /// Bytes of all the buffers.
    let byteCount: Int

    init(shape h: Hyperparameters, maxBatch: Int, feedForwardSize: Int) {
        self.maxBatch = maxBatch
        ropePairs = h.ropeDimensions / 2
        var all: [UnsafeMutablePointer<Float>] = []
        var bytes = 0
        func buffer(_ width: Int) -> UnsafeMutablePointer<Float> {
            bytes += max(1, maxBatch * width) * 4
            // 64-byte aligned: the prompt products write whole cache lines
            // of their outputs (and stream them past the caches when aligned)
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, maxBatch * width) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(1, maxBatch * width))
            p.initialize(repeating: 0, count: max(1, maxBatch * width))
            all.append(p)
            return p
        }
        x = buffer(h.embeddingSize)
        normed = buffer(h.embeddingSize)
        q = buffer(h.qWidth)
        k = buffer(h.kvWidth)
        v = buffer(h.kvWidth)
        attention = buffer(h.qWidth)
        blockOutput = buffer(h.embeddingSize)
        gate = buffer(feedForwardSize)
        up = buffer(feedForwardSize)
        cos = buffer(ropePairs)
        sin = buffer(ropePairs)
        localCos = buffer(ropePairs)
        localSin = buffer(ropePairs)
        self.all = all
        byteCount = bytes
    }

    deinit { all.forEach { $0.deallocate() } }
}

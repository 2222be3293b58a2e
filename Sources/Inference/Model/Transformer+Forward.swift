import Foundation
import Kernels

extension Transformer {
    /// One pass over at most `maxBatch` tokens: embeddings → blocks → logits.
    func forward(_ batch: [BatchEntry], logits: UnsafeMutablePointer<Float>) throws {
        let h = hyperparameters, s = state, m = batch.count
        let d = h.embeddingSize
        for e in batch { try cache.reserve(e.sequence, through: e.position) }

        // Token embeddings, and each token's RoPE angles (shared by every layer).
        for (t, e) in batch.enumerated() {
            tokenEmbedding.row(Int(e.token), into: s.x + t * d)
            rope.fill(position: e.position, cos: s.cos + t * s.ropePairs, sin: s.sin + t * s.ropePairs)
        }

        for (index, layer) in layers.enumerated() {
            // Attention: norm → q/k/v → rope → cache → attend → project → residual.
            rmsNorm(s.x, rows: m, width: d, weight: layer.attentionNorm, epsilon: h.rmsEpsilon, into: s.normed)
            try projectQKV(layer, rows: m)
            storeKeysAndValues(layer: index, batch: batch)
            attend(layer: index, batch: batch)
            try layer.output.apply(s.attention, rows: m, into: s.blockOutput, compute: compute)
            add(s.blockOutput, into: s.x, count: m * d)

            // Feed-forward: norm → FFN (one SwiGLU, or routed experts) → residual.
            rmsNorm(s.x, rows: m, width: d, weight: layer.feedForwardNorm, epsilon: h.rmsEpsilon, into: s.normed)
            switch layer.feedForward {
            case .dense(let ffn):
                try ffn.apply(s.normed, rows: m, into: s.blockOutput, gateBuffer: s.gate, upBuffer: s.up, compute: compute)
            case .experts(let moe):
                try moe.apply(s.normed, rows: m, into: s.blockOutput, gateBuffer: s.gate, upBuffer: s.up, compute: compute)
            }
            add(s.blockOutput, into: s.x, count: m * d)
        }

        // Final norm and output projection, only for the rows that want logits.
        var rows = 0
        for (t, e) in batch.enumerated() where e.wantsLogits {
            (s.normed + rows * d).update(from: s.x + t * d, count: d)
            rows += 1
        }
        guard rows > 0 else { return }
        rmsNorm(s.normed, rows: rows, width: d, weight: outputNorm, epsilon: h.rmsEpsilon, into: s.normed)
        try output.apply(s.normed, rows: rows, into: logits, compute: compute)
    }

    /// q, k, v for every row, with biases, query/key norms and RoPE applied.
    private func projectQKV(_ layer: TransformerLayer, rows m: Int) throws {
        let h = hyperparameters, s = state
        try Linear.apply([layer.query, layer.key, layer.value], to: s.normed, rows: m, into: [s.q, s.k, s.v], compute: compute)
        for t in 0..<m {
            let q = s.q + t * h.qWidth, k = s.k + t * h.kvWidth, v = s.v + t * h.kvWidth
            if let b = layer.queryBias { add(b, into: q, count: h.qWidth) }
            if let b = layer.keyBias { add(b, into: k, count: h.kvWidth) }
            if let b = layer.valueBias { add(b, into: v, count: h.kvWidth) }
            if let w = layer.queryNorm { normalizeHeads(q, width: h.qWidth, weight: w) }
            if let w = layer.keyNorm { normalizeHeads(k, width: h.kvWidth, weight: w) }
            let cos = s.cos + t * s.ropePairs, sin = s.sin + t * s.ropePairs
            applyRope(q, heads: h.headCount, headSize: h.headSize, dimensions: h.ropeDimensions,
                      style: architecture.ropeStyle, cos: cos, sin: sin)
            applyRope(k, heads: h.kvHeadCount, headSize: h.headSize, dimensions: h.ropeDimensions,
                      style: architecture.ropeStyle, cos: cos, sin: sin)
        }
    }

    /// RMSNorm per head when the weight has one head's size, else over the whole vector.
    private func normalizeHeads(_ x: UnsafeMutablePointer<Float>, width: Int, weight: [Float]) {
        let size = weight.count
        rmsNorm(x, rows: width / size, width: size, weight: weight, epsilon: hyperparameters.rmsEpsilon, into: x)
    }

    private func storeKeysAndValues(layer: Int, batch: [BatchEntry]) {
        let w = hyperparameters.kvWidth, s = state
        for (t, e) in batch.enumerated() {
            cache.store(layer: layer, sequence: e.sequence, position: e.position, keys: s.k + t * w, values: s.v + t * w)
        }
    }

    /// Causal grouped-query attention of every (token, head) over its
    /// sequence's cached positions 0...position, split across threads.
    private func attend(layer: Int, batch: [BatchEntry]) {
        let h = hyperparameters, s = state
        let heads = h.headCount, size = h.headSize, qWidth = h.qWidth
        let group = h.headCount / h.kvHeadCount
        let scale = 1 / Float(size).squareRoot()
        let type = cache.type, rowBytes = cache.rowBytes, headBytes = type.rowBytes(size)
        let keys = batch.map { UnsafeRawPointer(cache.keys(layer: layer, sequence: $0.sequence)) }
        let values = batch.map { UnsafeRawPointer(cache.values(layer: layer, sequence: $0.sequence)) }
        let positions = batch.map(\.position)
        let maxLength = (positions.max() ?? 0) + 1
        compute.parallelFor(batch.count * heads) { tasks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: maxLength) { scores in
                for task in tasks {
                    let t = task / heads, head = task % heads
                    let kvOffset = (head / group) * headBytes
                    // softmax(q·Kᵀ / √size) · V over positions 0...position
                    VectorOps.attendHead(type, query: s.q + t * qWidth + head * size,
                                         keys: keys[t] + kvOffset, values: values[t] + kvOffset, strideBytes: rowBytes,
                                         length: positions[t] + 1, size: size, scale: scale,
                                         scores: scores.baseAddress!, into: s.attention + t * qWidth + head * size)
                }
            }
        }
    }
}

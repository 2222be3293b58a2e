import Foundation
import Kernels

extension Transformer {
    /// One pass over at most `maxBatch` tokens: embeddings → blocks → logits.
    func forward(_ batch: [BatchEntry], logits: UnsafeMutablePointer<Float>) throws {
        let h = hyperparameters, s = state, m = batch.count
        let d = h.embeddingSize
        for e in batch { try cache.reserve(e.sequence, through: e.position) }

        // Token embeddings (×√d for Gemma, in Float as ggml scales them), and
        // each token's RoPE angles (shared by every layer that rotates alike).
        let embeddingScale = architecture.scalesEmbeddings ? Float(d).squareRoot() : 1
        for (t, e) in batch.enumerated() {
            tokenEmbedding.row(Int(e.token), into: s.x + t * d)
            if embeddingScale != 1 { scale(s.x + t * d, by: embeddingScale, count: d) }
            plan.globalRope.fill(position: e.position, cos: s.cos + t * s.ropePairs, sin: s.sin + t * s.ropePairs)
            plan.localRope?.fill(position: e.position, cos: s.localCos + t * s.ropePairs, sin: s.localSin + t * s.ropePairs)
        }

        for (index, layer) in layers.enumerated() {
            // Attention: norm → q/k/v → rope → cache → attend → project → (post-norm) → residual.
            normalizeRows(s.x, rows: m, weight: layer.attentionNorm, into: s.normed)
            try projectQKV(layer, rows: m, localRope: plan.usesLocalRope(layer: index))
            storeKeysAndValues(layer: index, batch: batch)
            attend(layer: index, batch: batch)
            try layer.output.apply(s.attention, rows: m, into: s.blockOutput, compute: compute)
            addResidual(normalizedBy: layer.postAttentionNorm, rows: m)

            // Feed-forward: norm → FFN (gated, or routed experts) → (post-norm) → residual.
            normalizeRows(s.x, rows: m, weight: layer.feedForwardNorm, into: s.normed)
            switch layer.feedForward {
            case .dense(let ffn):
                try ffn.apply(s.normed, rows: m, into: s.blockOutput, gateBuffer: s.gate, upBuffer: s.up, compute: compute)
            case .experts(let moe):
                try moe.apply(s.normed, rows: m, into: s.blockOutput, gateBuffer: s.gate, upBuffer: s.up, compute: compute)
            }
            addResidual(normalizedBy: layer.postFeedForwardNorm, rows: m)
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
        if let cap = plan.finalSoftCap { softCap(logits, count: rows * vocabularySize, cap: cap) }
    }

    /// x += blockOutput, the block output first RMS-normalised when the
    /// family has post-norms (Gemma 2/3).
    private func addResidual(normalizedBy weight: [Float]?, rows m: Int) {
        let s = state, d = hyperparameters.embeddingSize
        if let weight { normalizeRows(s.blockOutput, rows: m, weight: weight, into: s.blockOutput) }
        compute.forRows(m) { rows in
            add(s.blockOutput + rows.lowerBound * d, into: s.x + rows.lowerBound * d, count: rows.count * d)
        }
    }

    /// RMSNorm of m embedding-wide rows, split across the pool for prompts.
    private func normalizeRows(_ x: UnsafeMutablePointer<Float>, rows m: Int, weight: [Float],
                               into y: UnsafeMutablePointer<Float>) {
        let d = hyperparameters.embeddingSize, epsilon = hyperparameters.rmsEpsilon
        compute.forRows(m) { rows in
            let o = rows.lowerBound * d
            rmsNorm(x + o, rows: rows.count, width: d, weight: weight, epsilon: epsilon, into: y + o)
        }
    }

    /// q, k, v for every row, with biases, query/key norms and RoPE applied.
    private func projectQKV(_ layer: TransformerLayer, rows m: Int, localRope: Bool) throws {
        let s = state
        try Linear.apply([layer.query, layer.key, layer.value], to: s.normed, rows: m, into: [s.q, s.k, s.v], compute: compute)
        let (cosines, sines) = localRope ? (s.localCos, s.localSin) : (s.cos, s.sin)
        compute.forRows(m) { tokens in positionQKV(layer, tokens: tokens, cosines: cosines, sines: sines) }
    }

    /// Biases, query/key norms, RoPE and the query scale for some tokens.
    private func positionQKV(_ layer: TransformerLayer, tokens: Range<Int>, cosines: UnsafeMutablePointer<Float>,
                             sines: UnsafeMutablePointer<Float>) {
        let h = hyperparameters, s = state
        for t in tokens {
            let q = s.q + t * h.qWidth, k = s.k + t * h.kvWidth, v = s.v + t * h.kvWidth
            if let b = layer.queryBias { add(b, into: q, count: h.qWidth) }
            if let b = layer.keyBias { add(b, into: k, count: h.kvWidth) }
            if let b = layer.valueBias { add(b, into: v, count: h.kvWidth) }
            if let w = layer.queryNorm { normalizeHeads(q, width: h.qWidth, weight: w) }
            if let w = layer.keyNorm { normalizeHeads(k, width: h.kvWidth, weight: w) }
            let cos = cosines + t * s.ropePairs, sin = sines + t * s.ropePairs
            applyRope(q, heads: h.headCount, headSize: h.headSize, dimensions: h.ropeDimensions,
                      style: architecture.ropeStyle, cos: cos, sin: sin)
            applyRope(k, heads: h.kvHeadCount, headSize: h.headSize, dimensions: h.ropeDimensions,
                      style: architecture.ropeStyle, cos: cos, sin: sin)
            if plan.scalesQueries { scale(q, by: plan.queryScale, count: h.qWidth) }
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
}

/// The MoE controls of a loaded model: how many experts each token uses,
/// and what the routers have done. Dense models report no experts.
///
/// Like evaluation, these must not run while another thread evaluates.
extension Transformer {
    private var expertLayers: [ExpertFeedForward] {
        layers.compactMap { if case .experts(let moe) = $0.feedForward { return moe } else { return nil } }
    }

    /// Experts per MoE layer in the file (`expert_count`); 0 for a dense model.
    public var expertCount: Int { hyperparameters.expertCount }

    /// Experts each token is routed to right now; 0 for a dense model.
    public var expertsUsed: Int { expertLayers.first?.expertsUsed ?? 0 }

    /// Routes each token to `count` experts instead of the file's
    /// `expert_used_count` (nil restores the file's value). Fewer is faster
    /// and lower quality — a trade, not a free speed-up.
    public func setExpertsUsed(_ count: Int?) throws {
        let layers = expertLayers
        guard let first = layers.first else {
            if count == nil { return }
            throw InferenceError.badHyperparameter("experts used", "this model has no experts")
        }
        let k = count ?? first.defaultExpertsUsed
        guard k >= 1, k <= first.expertCount else {
            throw InferenceError.badHyperparameter("experts used", "\(k) is outside 1...\(first.expertCount)")
        }
        layers.forEach { $0.expertsUsed = k }
    }

    /// Per-layer routing counts and entropy since the last reset; nil for a dense model.
    public var expertStatistics: ExpertStatistics? {
        let layers = expertLayers
        return layers.isEmpty ? nil : ExpertStatistics(layers: layers.map(\.statistics))
    }

    /// Repacks, now, every routed expert that has not been picked yet (the
    /// copy `ExpertBank` otherwise makes on an expert's first pick), on the
    /// model's threads; returns how many experts were repacked (0 for a
    /// dense model, or with repacking off). The layout a steady stream of
    /// requests reaches, without its first tokens paying for the copies:
    /// call it after loading, or while the model is idle. It waits for a
    /// running evaluation (the layout thread does the same work by default,
    /// one expert at a time: `ModelOptions.preparesExperts`).
    @discardableResult
    public func prepareExperts() -> Int {
        layout.evaluateLock.withLock { expertLayers.reduce(0) { $0 + $1.experts.prepareAll(pool: compute.pool) } }
    }

    /// Bytes of the MoE layers' working memory (one set, shared by them all; 0 for a dense model).
    var expertScratchBytes: Int { expertLayers.first?.sharedScratchBytes ?? 0 }

    public func resetExpertStatistics() { expertLayers.forEach { $0.resetStatistics() } }

    /// Bytes of weights one decoded token reads: attention, the routed
    /// experts it uses (not the others), norms aside, and the output matrix.
    public var activeWeightBytesPerToken: Int {
        let perLayer = layers.reduce(0) { sum, layer in
            let attention = layer.query.byteCount + layer.key.byteCount + layer.value.byteCount + layer.output.byteCount
            switch layer.feedForward {
            case .dense(let ffn): return sum + attention + ffn.gate.byteCount + ffn.up.byteCount + ffn.down.byteCount
            case .experts(let moe): return sum + attention + moe.activeByteCount
            }
        }
        return perLayer + output.byteCount
    }
}

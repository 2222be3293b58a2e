/// How every layer attends, resolved once at load from the family's rules
/// (`Architecture`) and the file's keys and tensors: the query scale, soft
/// caps, which layers look through a sliding window, and the RoPE rotations
/// of global and local layers.
struct AttentionPlan {
    /// Multiplier of q·k before the softmax.
    let queryScale: Float
    /// Whether it multiplies q before the product instead (`Architecture.scalesQueries`).
    let scalesQueries: Bool
    /// c in c·tanh(s/c) on attention scores; nil: none (most families).
    let softCap: Float?
    /// c in c·tanh(z/c) on the output logits; nil: none.
    let finalSoftCap: Float?
    /// Per layer: positions attended through the sliding window, the current
    /// one included (llama.cpp masks key p0 for query p1 when p1 − p0 ≥ window),
    /// or 0 for global attention.
    let windows: [Int]
    /// The rotation of global layers.
    let globalRope: RopeAngles
    /// The rotation of sliding-window layers when it differs (Gemma 3's local
    /// base 10000, unscaled); nil: they rotate as the global ones.
    let localRope: RopeAngles?

    init(shape h: Hyperparameters, architecture a: Architecture, contextLength: Int, source: TensorSource) throws {
        let wide = a.wideQueryScaleLayerCount == h.layerCount
        queryScale = 1 / Float(wide ? h.embeddingSize / h.headCount : h.headSize).squareRoot()
        scalesQueries = a.scalesQueries
        if let caps = a.softCapping {
            softCap = caps.attention.flatMap { Self.cap(h.attentionSoftCap ?? $0) }
            finalSoftCap = Self.cap(h.finalSoftCap ?? caps.final)
        } else {
            (softCap, finalSoftCap) = (nil, nil)
        }

        var global = RopeAngles(dimensions: h.ropeDimensions, base: h.ropeBase, scale: h.ropeScale)
        (global.factors, global.magnitude) = try Self.ropeFactors(h, contextLength: contextLength, source: source)
        globalRope = global

        guard let rule = a.slidingWindow, let window = h.slidingWindow ?? rule.defaultWindow, window > 0 else {
            windows = Array(repeating: 0, count: h.layerCount)
            localRope = nil
            return
        }
        let pattern = h.slidingWindowPattern ?? .period(rule.period)
        windows = (0..<h.layerCount).map { pattern.slides(layer: $0) ? window : 0 }
        let local = RopeAngles(dimensions: global.dimensions, base: h.localRopeBase ?? rule.localRopeBase ?? h.ropeBase,
                               scale: rule.localRopeScaled ? h.ropeScale : 1, factors: global.factors,
                               magnitude: global.magnitude)
        localRope = local == global ? nil : local
    }

    /// The multiplier of q·k inside attention (1 when q was scaled already).
    var scoreScale: Float { scalesQueries ? 1 : queryScale }

    /// The rotation layer `index` uses.
    func usesLocalRope(layer index: Int) -> Bool { localRope != nil && windows[index] > 0 }

    /// The first cached position a query at `position` attends to in layer `index`.
    func firstAttended(layer index: Int, position: Int) -> Int {
        let window = windows[index]
        return window > 0 ? max(0, position - window + 1) : 0
    }

    private static func cap(_ value: Float) -> Float? { value > 0 ? value : nil }

    /// Per-pair RoPE divisors and the cos/sin magnitude. `rope_freqs`
    /// (Llama 3.1), or the same factors computed from llama3 scaling keys,
    /// apply at every context; LongRoPE's long factors apply
    /// when the context exceeds the original one and the short ones
    /// otherwise — chosen by context size, as llama.cpp does, so a
    /// sequence's rotation never changes under it.
    private static func ropeFactors(_ h: Hyperparameters, contextLength: Int,
                                    source: TensorSource) throws -> ([Float]?, Float) {
        let pairs = h.ropeDimensions / 2
        if let freqs = try source.vectorIfPresent("rope_freqs.weight", count: pairs) {
            return (try positive(freqs, "rope_freqs.weight"), 1)
        }
        if let llama3 = h.llama3RopeScaling {
            return (llama3.factors(dimensions: h.ropeDimensions, base: h.ropeBase), 1)
        }
        let name = contextLength > h.ropeOriginalContext ? "rope_factors_long.weight" : "rope_factors_short.weight"
        guard let factors = try source.vectorIfPresent(name, count: pairs) else { return (nil, 1) }
        return (try positive(factors, name), h.ropeAttentionFactor)
    }

    private static func positive(_ factors: [Float], _ name: String) throws -> [Float] {
        guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw InferenceError.badHyperparameter(name, "RoPE factors must be positive and finite")
        }
        return factors
    }
}

import Foundation

/// How one MoE layer has routed tokens since the counters were last reset:
/// how often each expert was picked, and how spread out the router was.
///
/// Kept by the layer itself on the thread that runs the forward pass (the
/// model is evaluated by one caller at a time), so counting takes no locks.
public struct ExpertLayerStatistics: Sendable, Equatable {
    /// Per expert, how many tokens were sent to it.
    public private(set) var selections: [Int]
    /// Tokens routed (each picks `expertsUsed` experts).
    public private(set) var tokens: Int
    /// Sum over tokens of the entropy (nats) of the router's distribution over all experts.
    public private(set) var entropySum: Double

    public init(expertCount: Int) {
        selections = Array(repeating: 0, count: expertCount)
        tokens = 0
        entropySum = 0
    }

    /// Mean routing entropy per token in nats; 0 before any token.
    public var meanEntropy: Double { tokens > 0 ? entropySum / Double(tokens) : 0 }

    /// The entropy of a uniform router, log(expert count): the ceiling for `meanEntropy`.
    public var maximumEntropy: Double { selections.isEmpty ? 0 : log(Double(selections.count)) }

    /// Each expert's share of all selections (sums to 1 once any token was routed).
    public var selectionShares: [Double] {
        let total = selections.reduce(0, +)
        return selections.map { total > 0 ? Double($0) / Double(total) : 0 }
    }

    mutating func record(_ choice: ExpertChoice, entropy: Double) {
        for e in choice.experts { selections[e] += 1 }
        tokens += 1
        entropySum += entropy
    }

    public mutating func reset() { self = ExpertLayerStatistics(expertCount: selections.count) }
}

/// Routing statistics of every MoE layer of a model, in layer order.
public struct ExpertStatistics: Sendable, Equatable {
    public var layers: [ExpertLayerStatistics]

    public init(layers: [ExpertLayerStatistics]) { self.layers = layers }

    /// Tokens routed through the first layer (every layer sees the same tokens).
    public var tokens: Int { layers.first?.tokens ?? 0 }

    /// Mean over layers of each layer's mean routing entropy.
    public var meanEntropy: Double {
        layers.isEmpty ? 0 : layers.reduce(0) { $0 + $1.meanEntropy } / Double(layers.count)
    }
}

/// A latency histogram as moed keeps it and `stats` carries it: fixed upper
/// bounds in seconds, one count per bound plus one above them all, and the
/// sum of what was observed (Prometheus' histogram, not yet cumulative).
public struct LatencyHistogram: Sendable, Equatable {
    /// 1 ms to 60 s, roughly ×2.5 apart: per-token latencies sit low, first tokens after a load high.
    public static let defaultBounds: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ]

    public var bounds: [Double]
    public var counts: [UInt64]
    public var sum: Double

    public init(bounds: [Double] = LatencyHistogram.defaultBounds) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
        sum = 0
    }

    /// Rebuilds one from the wire; counts that do not match the bounds give an empty histogram.
    public init(bounds: [Double], counts: [UInt64], sum: Double) {
        self.bounds = bounds
        guard counts.count == bounds.count + 1 else {
            self.counts = Array(repeating: 0, count: bounds.count + 1)
            self.sum = 0
            return
        }
        self.counts = counts
        self.sum = sum
    }

    public mutating func observe(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        let index = bounds.firstIndex { seconds <= $0 } ?? bounds.count
        counts[index] += 1
        sum += seconds
    }

    public var count: UInt64 { counts.reduce(0, +) }

    /// Running totals per bound, then the total (Prometheus' `le` buckets, `+Inf` last).
    public var cumulativeCounts: [UInt64] {
        var total: UInt64 = 0
        return counts.map { total += $0; return total }
    }
}

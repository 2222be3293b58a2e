import Foundation
import Testing
import MoeAPI
@testable import Gateway

@Suite("Prometheus text and latency histograms")
struct MetricsTextTests {
    @Test("a histogram counts each observation once, in the first bucket that holds it")
    func histogram() {
        var h = LatencyHistogram(bounds: [0.1, 1])
        for value in [0.05, 0.1, 0.5, 3, .nan, -1] { h.observe(value) }
        #expect(h.counts == [2, 1, 1])
        #expect(h.cumulativeCounts == [2, 3, 4])
        #expect(h.count == 4)
        #expect(abs(h.sum - 3.65) < 1e-9)
        #expect(LatencyHistogram(bounds: [1], counts: [1, 2, 3], sum: 1).count == 0)
    }

    @Test("histograms render cumulative le buckets, +Inf, _sum and _count; labels are escaped")
    func rendering() {
        var h = LatencyHistogram(bounds: [0.5])
        h.observe(0.25)
        h.observe(2)
        var out = MetricsText()
        out.histogram("x_seconds", "help", [(tier: "a\"b", histogram: h)])
        out.family("y_total", "counter", "help", [([("tier", "t\\n")], 3)])
        #expect(out.text == """
            # HELP x_seconds help
            # TYPE x_seconds histogram
            x_seconds_bucket{tier="a\\"b",le="0.5"} 1
            x_seconds_bucket{tier="a\\"b",le="+Inf"} 2
            x_seconds_sum{tier="a\\"b"} 2.25
            x_seconds_count{tier="a\\"b"} 2
            # HELP y_total help
            # TYPE y_total counter
            y_total{tier="t\\\\n"} 3

            """)
    }

    @Test("expert-load entropy is ln(experts) for an even spread and 0 for one expert")
    func entropy() throws {
        let even = try #require(expertLoadEntropy([5, 5, 5, 5][...]))
        #expect(abs(even - log(4.0)) < 1e-12)
        #expect(expertLoadEntropy([9, 0, 0][...]) == 0)
        #expect(expertLoadEntropy([0, 0][...]) == nil)
        var stats = TierStats()
        stats.name = "m"
        stats.layers = 2
        stats.experts = 2
        stats.expertCounts = [1, 1, 4, 0]
        let samples = MetricsReport.expertEntropySamples(stats)
        #expect(samples.count == 2)
        #expect(samples.last?.value == 0)
    }
}

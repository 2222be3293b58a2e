import Foundation
import MoeAPI

/// Writes Prometheus' text exposition format (version 0.0.4): each family
/// once, with `# HELP` and `# TYPE`, then its samples.
struct MetricsText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
        guard !samples.isEmpty else { return }
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples { line(name, sample.labels, sample.value) }
    }

    mutating func histogram(_ name: String, _ help: String, _ series: [(tier: String, histogram: LatencyHistogram)]) {
        guard !series.isEmpty else { return }
        text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (tier, histogram) in series {
            let cumulative = histogram.cumulativeCounts
            for (index, bound) in histogram.bounds.enumerated() {
                line(name + "_bucket", [("tier", tier), ("le", Self.number(bound))], Double(cumulative[index]))
            }
            line(name + "_bucket", [("tier", tier), ("le", "+Inf")], Double(histogram.count))
            line(name + "_sum", [("tier", tier)], histogram.sum)
            line(name + "_count", [("tier", tier)], Double(histogram.count))
        }
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// Entropy (nats) of how a layer's routed tokens spread over its experts:
/// ln(experts) when every expert gets the same load, 0 when one gets all.
func expertLoadEntropy(_ counts: ArraySlice<UInt64>) -> Double? {
    let total = Double(counts.reduce(0, +))
    guard total > 0 else { return nil }
    return counts.reduce(0.0) { sum, count in
        guard count > 0 else { return sum }
        let p = Double(count) / total
        return sum - p * log(p)
    }
}

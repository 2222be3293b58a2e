extension TableReader {
    /// A size: integer bytes, or a string like "512MiB", "4GiB", "2GB", or "auto".
    func bytes(_ e: TOMLEntry) throws -> UInt64? {
        switch e.value {
        case .integer(let v) where v > 0: return UInt64(v)
        case .string(let s):
            if s == "auto" { return nil }
            if let value = Self.parseSize(s) { return value }
            throw error(e, "cannot read size '\(s)' (use e.g. \"4GiB\", \"512MiB\" or \"auto\")")
        default: throw error(e, "expected a size such as \"4GiB\"")
        }
    }

    static func parseSize(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        let trimmed = text.trimmingSpaces
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count).trimmingSpaces), number > 0 else { return nil }
            let value = number * Double(scale)
            return value < 1.8e19 ? UInt64(value) : nil
        }
        return UInt64(trimmed).flatMap { $0 > 0 ? $0 : nil }
    }

    /// The longest duration a setting may name: a year. Longer would mean
    /// "never", which "forever" says plainly; and a timer of any length
    /// this allows still fits libuv's milliseconds.
    static let longestDuration: Double = 365 * 24 * 3600

    /// Seconds: a number, or "30s", "5m", "2h", "7d"; "forever" or a negative
    /// number means never (nil). At most `longestDuration`.
    func duration(_ e: TOMLEntry) throws -> Double? {
        let seconds: Double
        switch e.value {
        case .integer(let v): if v < 0 { return nil } else { seconds = Double(v) }
        case .float(let v): if v < 0 { return nil } else { seconds = v }
        case .string(let s):
            if s == "forever" || s == "never" { return nil }
            guard let parsed = Self.parseDuration(s) else {
                throw error(e, "cannot read duration '\(s)' (use e.g. \"5m\", \"30s\" or \"forever\")")
            }
            seconds = parsed
        default: throw error(e, "expected a duration such as \"5m\"")
        }
        guard seconds.isFinite, seconds <= Self.longestDuration else {
            throw error(e, "\(seconds) seconds is longer than the limit of 365 days (use \"forever\" for never)")
        }
        return seconds
    }

    /// A non-negative number with an optional unit, in seconds; nil when
    /// it is not one ("inf" and "nan" are numbers to Double, so they pass
    /// here and the caller's bound refuses them).
    static func parseDuration(_ text: String) -> Double? {
        let scales: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in scales where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number >= 0 { return number * scale }
        }
        if let number = Double(text), number >= 0 { return number }
        return nil
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

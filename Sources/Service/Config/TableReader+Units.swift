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

    /// Seconds: a number, or "30s", "5m", "2h"; "forever" or a negative
    /// number means never (nil).
    func duration(_ e: TOMLEntry) throws -> Double? {
        switch e.value {
        case .integer(let v): return v < 0 ? nil : Double(v)
        case .float(let v): return v < 0 ? nil : v
        case .string(let s):
            if s == "forever" || s == "never" { return nil }
            let scales: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
            for (suffix, scale) in scales where s.hasSuffix(suffix) {
                if let number = Double(s.dropLast(suffix.count)), number >= 0 { return number * scale }
            }
            if let number = Double(s), number >= 0 { return number }
            throw error(e, "cannot read duration '\(s)' (use e.g. \"5m\", \"30s\" or \"forever\")")
        default: throw error(e, "expected a duration such as \"5m\"")
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

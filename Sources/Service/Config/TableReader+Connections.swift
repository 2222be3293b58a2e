// Readers for the [daemon] keys that bound what one client may hold
// (queued replies, idle time, connections) and who is an admin.

extension TableReader {
    /// A size in `range`, without "auto".
    func byteLimit(_ e: TOMLEntry, _ range: ClosedRange<Int>) throws -> Int {
        guard let value = try bytes(e) else { throw error(e, "\"auto\" is not allowed here; give a size such as \"4MiB\"") }
        guard value >= UInt64(range.lowerBound), value <= UInt64(range.upperBound) else {
            throw error(e, "\(value) bytes is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(value)
    }

    /// A finite duration of at most 30 days, so it always fits a timer;
    /// nil ("forever") only where `allowsNever`.
    func timeout(_ e: TOMLEntry, allowsNever: Bool) throws -> Double? {
        guard let seconds = try duration(e) else {
            if allowsNever { return nil }
            throw error(e, "must be a finite duration such as \"30s\"")
        }
        let longest = 30.0 * 86_400
        guard seconds.isFinite, seconds >= 0.001, seconds <= longest else {
            throw error(e, "\(seconds) s is outside 0.001...\(Int(longest)) s")
        }
        return seconds
    }

    /// A group name as in /etc/group, or a numeric gid. Resolved when the
    /// daemon starts or reloads (a missing group is refused then).
    func groupName(_ e: TOMLEntry) throws -> String {
        if case .integer(let v) = e.value {
            guard let gid = UInt32(exactly: v), gid != UInt32.max else { throw error(e, "\(v) is not a group id") }
            return String(gid)
        }
        let name = try nonEmptyString(e)
        let allowed = name.utf8.count <= 64 && name.first != "-"
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) }
        guard allowed else { throw error(e, "expected a group name such as \"moed\" or a numeric gid") }
        return name
    }
}

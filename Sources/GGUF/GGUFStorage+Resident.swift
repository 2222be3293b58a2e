#if canImport(Glibc)
import Glibc
#endif

extension GGUFStorage {
    /// The Rss of this mapping, from its entry in /proc/self/smaps: the
    /// pages of the file this process holds now, as the kernel counts them
    /// in its resident size. Nil when not a mapping, or smaps is unreadable.
    ///
    /// A tier asks once per run of steps, on the thread that decodes, so the
    /// ~4000 lines are scanned as bytes: splitting them into Swift strings
    /// cost more than the kernel's own walk (~1 ms) and showed as 1.2 % of
    /// a SmolLM2 stream's samples in moed.
    func residentBytes() -> Int? {
        #if os(Linux)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        guard let smaps = Self.readSmaps() else { return nil }
        return Self.rss(ofMappingAt: UInt(bitPattern: base), smaps: smaps)
        #else
        return nil
        #endif
    }

    /// The `Rss:` figure, in bytes, of the mapping whose header line starts
    /// at `start` ("start-end perms offset dev inode path", the address as
    /// smaps prints it: hex, no leading zeros), or nil if there is none.
    static func rss(ofMappingAt start: UInt, smaps: [UInt8]) -> Int? {
        let header = Array((String(start, radix: 16) + "-").utf8)
        let rss = Array("Rss:".utf8)
        var line = 0
        var inMapping = false
        while line < smaps.count {
            let end = smaps[line...].firstIndex(of: UInt8(ascii: "\n")) ?? smaps.count
            if !inMapping {
                inMapping = hasPrefix(smaps, at: line, end: end, header)
            } else if hasPrefix(smaps, at: line, end: end, rss) {
                return kibibytes(smaps[(line + rss.count)..<end]).map { $0 * 1024 }
            }
            line = end + 1
        }
        return nil
    }

    private static func hasPrefix(_ text: [UInt8], at start: Int, end: Int, _ prefix: [UInt8]) -> Bool {
        end - start >= prefix.count && text[start..<(start + prefix.count)].elementsEqual(prefix)
    }

    /// "   1234 kB" → 1234.
    private static func kibibytes(_ field: ArraySlice<UInt8>) -> Int? {
        let digits = field.drop { $0 == UInt8(ascii: " ") }.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    private static func readSmaps() -> [UInt8]? {
        let fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        data.reserveCapacity(1 << 18)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return data
    }
}

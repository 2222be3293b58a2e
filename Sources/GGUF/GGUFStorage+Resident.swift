#if canImport(Glibc)
import Glibc
#endif

extension GGUFStorage {
    /// The Rss of this mapping, from its entry in /proc/self/smaps: the
    /// pages of the file this process holds now, as the kernel counts them
    /// in its resident size. Nil when not a mapping, or smaps is unreadable.
    func residentBytes() -> Int? {
        #if os(Linux)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        guard let smaps = Self.readSmaps() else { return nil }
        let start = String(UInt(bitPattern: base), radix: 16) + "-"
        var inMapping = false
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            if let first = line.first, first.isHexDigit, line.contains("-") {
                // A mapping's header: "start-end perms offset dev inode path".
                // Matched on its start, as smaps prints it (no leading zeros).
                inMapping = line.hasPrefix(start)
            } else if inMapping, line.hasPrefix("Rss:") {
                let kib = line.dropFirst(4).split(separator: " ").first.flatMap { Int($0) }
                return kib.map { $0 * 1024 }
            }
        }
        return nil
        #else
        return nil
        #endif
    }

    private static func readSmaps() -> String? {
        let fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }
}

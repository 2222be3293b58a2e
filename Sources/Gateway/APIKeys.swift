import Foundation

/// The keys a client may present as `Authorization: Bearer KEY`, read from
/// a file (one per line; blank lines and `#` comments skipped) and read
/// again on SIGHUP. With no file, every request is let in (local-only
/// listeners); an empty file lets nobody in.
public final class APIKeys: @unchecked Sendable {
    public let path: String?
    private let lock = NSLock()
    private var keys: Set<String> = []

    public init(path: String?) throws {
        self.path = path
        if path != nil { try reload() }
    }

    public var isEnforced: Bool { path != nil }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return keys.count
    }

    /// Re-reads the file; on an error the keys in use stay.
    public func reload() throws {
        guard let path else { return }
        let fresh = try Self.read(path)
        lock.lock()
        keys = fresh
        lock.unlock()
    }

    static func read(_ path: String) throws -> Set<String> {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GatewaySetupError("--api-keys \(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GatewaySetupError("--api-keys \(path): not UTF-8 text")
        }
        var keys = Set<String>()
        for line in text.split(whereSeparator: \.isNewline) {
            let key = line.trimmingCharacters(in: .whitespaces)
            if key.isEmpty || key.hasPrefix("#") { continue }
            keys.insert(key)
        }
        return keys
    }

    /// Whether an `Authorization` header value carries a known key.
    public func admits(authorization: String?) -> Bool {
        guard path != nil else { return true }
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return false }
        let presented = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        lock.lock()
        let known = keys
        lock.unlock()
        // Compares against every key in full so the time taken says nothing about which prefix matched.
        var match = false
        for key in known where Self.sameBytes(key, presented) { match = true }
        return match
    }

    static func sameBytes(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

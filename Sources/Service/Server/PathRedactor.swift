import MoeAPI

/// What a non-admin peer sees instead of file paths: tier and plugin names
/// stay, the config file, socket, model files, plugin folders and paths
/// inside messages (dlerror text, "not found in …") go. Generated text is
/// the client's own and is never touched.
public struct PathRedactor: Equatable, Sendable {
    public static let placeholder = "<path>"
    /// Paths from the config (config file, models, plugins, plugin folders),
    /// longest first so a path is replaced whole before any prefix of it.
    let knownPaths: [[UInt8]]

    public init(knownPaths: [String] = []) {
        self.knownPaths = Set(knownPaths.filter { $0.contains("/") }).sorted { $0.utf8.count > $1.utf8.count }.map { Array($0.utf8) }
    }

    /// Every path-bearing field of every reply type, emptied or rewritten.
    public func redact(_ response: Response) -> Response {
        var redacted = response
        if let error = response.error { redacted.error = RemoteError(error.code, redact(text: error.message)) }
        switch response.result {
        case .status(var status):
            status.configPath = ""
            status.socket = ""
            status.tiers = status.tiers.map(redact)
            redacted.result = .status(status)
        case .tiers(var reply):
            reply.tiers = reply.tiers.map(redact)
            redacted.result = .tiers(reply)
        case .plugins(let plugins):
            redacted.result = .plugins(plugins.map(redact))
        case .tier(let tier):
            redacted.result = .tier(redact(tier))
        case .reload(var reply):
            reply.configPath = ""
            redacted.result = .reload(reply)
        case .loadProgress, .chunk, .summary, .tokenize, .stats, nil:
            break
        }
        return redacted
    }

    func redact(_ tier: TierStatus) -> TierStatus {
        var tier = tier
        tier.model = ""
        tier.plugin = Self.lastComponent(tier.plugin)
        tier.lastError = redact(text: tier.lastError)
        return tier
    }

    func redact(_ plugin: PluginInfo) -> PluginInfo {
        var plugin = plugin
        plugin.path = Self.lastComponent(plugin.path)
        plugin.error = redact(text: plugin.error)
        return plugin
    }

    /// Known config paths first (they may be relative), then anything that
    /// looks like an absolute path.
    public func redact(text: String) -> String {
        guard !text.isEmpty else { return text }
        var bytes = Array(text.utf8)
        for path in knownPaths { bytes = Self.replacing(path, in: bytes) }
        return String(decoding: Self.replacingAbsolutePaths(in: bytes), as: UTF8.self)
    }

    /// "libmoe_x.so" of "/usr/lib/moed/plugins/libmoe_x.so": a name, not where it lives.
    static func lastComponent(_ path: String) -> String {
        guard path.contains("/") else { return path }
        return path.split(separator: "/").last.map(String.init) ?? ""
    }

    private static let placeholderBytes = Array(placeholder.utf8)

    private static func replacing(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return haystack }
        var result: [UInt8] = []
        result.reserveCapacity(haystack.count)
        var index = 0
        while index < haystack.count {
            if haystack[index] == needle[0], haystack.count - index >= needle.count,
               haystack[index..<index + needle.count].elementsEqual(needle) {
                result += placeholderBytes
                index += needle.count
            } else {
                result.append(haystack[index])
                index += 1
            }
        }
        return result
    }

    /// A path starts with "/" at the start or after a separator (so
    /// "tokens/s" and "1/2" stay) and runs to the next separator.
    private static let before = Set(" \t\n(['\"`=,:<".utf8)
    private static let after = Set(" \t\n)]'\"`,:;>".utf8)

    private static func replacingAbsolutePaths(in bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "/"), index == 0 || before.contains(bytes[index - 1]) {
                var end = index + 1
                while end < bytes.count, !after.contains(bytes[end]) { end += 1 }
                if end - index > 1 {  // a lone "/" is not a path
                    result += placeholderBytes
                    index = end
                    continue
                }
            }
            result.append(bytes[index])
            index += 1
        }
        return result
    }
}

import CMoePlugin
import MoePluginKit
import MoeRemoteHTTP
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A remote tier's settings, from `moe_open_params.settings` (the tier's
/// `url`, `remote_model`, `api_key_file`, `timeout`). Unknown keys are
/// refused by name; the API key is read from its file here and never
/// appears in a message.
struct RemoteSettings {
    var url: UpstreamURL
    var model: String
    var apiKey: String?
    var timeout: Double

    static let defaultTimeout = 60.0

    init(_ params: UnsafePointer<moe_open_params>?) throws {
        guard let params else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL params") }
        var values: [String: String] = [:]
        let count = params.pointee.setting_count
        if count > 0 {
            guard let list = params.pointee.settings, count <= 64 else {
                throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "settings: NULL list or more than 64 entries")
            }
            for setting in UnsafeBufferPointer(start: list, count: count) {
                guard let key = setting.key, let value = setting.value else {
                    throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "a setting with a NULL key or value")
                }
                values[String(cString: key)] = String(cString: value)
            }
        }
        let known: Set = ["url", "remote_model", "api_key_file", "timeout"]
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "the remote plugin has no setting '\(unknown)' (it takes url, remote_model, api_key_file, timeout)")
        }
        guard let url = values["url"] else {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "the remote plugin needs a url, e.g. url = \"http://127.0.0.1:8000/v1\"")
        }
        do {
            self.url = try UpstreamURL(url)
        } catch {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "\(error)")
        }
        model = values["remote_model"] ?? ""
        timeout = Self.defaultTimeout
        if let text = values["timeout"] {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0.1, seconds <= 86400 * 365 else {
                throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "timeout '\(text)': expected seconds, at least 0.1")
            }
            timeout = seconds
        }
        apiKey = try values["api_key_file"].map(Self.readKey)
    }

    /// The first line of the file, trimmed: one key of visible ASCII.
    static func readKey(from path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw PluginFailure(MOE_ERR_IO, "api_key_file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4097)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw PluginFailure(MOE_ERR_IO, "api_key_file \(path): \(String(cString: strerror(errno)))") }
        guard count <= 4096 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "api_key_file \(path): longer than 4096 bytes") }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        let key = line.trimmingCharacters(in: " \t")
        guard !key.isEmpty else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "api_key_file \(path): no key on its first line") }
        guard key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "api_key_file \(path): the key holds spaces or characters outside visible ASCII")
        }
        return key
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

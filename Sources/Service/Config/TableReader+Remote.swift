import PluginHost

extension TableReader {
    /// A remote tier's keys (docs/configuration.md, "Remote tiers"): read
    /// and checked here, then handed to the plugin as text. Returns false
    /// for any other key.
    func applyRemote(_ e: TOMLEntry, to t: inout TierSettings) throws -> Bool {
        let value: String
        switch e.key {
        case "url": value = try upstreamURL(e)
        case "remote_model": value = try nonEmptyString(e)
        case "api_key_file": value = try nonEmptyString(e)
        case "timeout":
            guard let seconds = try duration(e), seconds >= 0.1 else {
                throw error(e, "expected a timeout of at least 0.1 s, such as \"60s\" (\"forever\" is not allowed)")
            }
            value = String(seconds)
        default: return false
        }
        t.pluginSettings.append(PluginSetting(key: e.key, value: value))
        return true
    }

    /// "http://host[:port][/path]"; the plugin reads the parts. https is
    /// refused here, by name: the remote plugin speaks plain HTTP (see
    /// docs/scaling.md for putting TLS in front).
    private func upstreamURL(_ e: TOMLEntry) throws -> String {
        let url = try nonEmptyString(e)
        if url.lowercased().hasPrefix("https://") {
            throw error(e, "https is not supported by the remote plugin; use http:// on a trusted network or a local TLS proxy (docs/scaling.md)")
        }
        guard url.lowercased().hasPrefix("http://"), url.count > "http://".count,
              url.utf8.count <= 2048, url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw error(e, "expected an http:// URL such as \"http://127.0.0.1:8000/v1\"")
        }
        return url
    }
}

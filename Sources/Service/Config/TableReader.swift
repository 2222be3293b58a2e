import GenerationCore
import PluginHost

/// Turns table entries into settings, with errors naming line and key.
struct TableReader {
    let path: String

    func error(_ entry: TOMLEntry, _ message: String) -> ConfigError {
        ConfigError(path: path, line: entry.line, key: entry.key, message: message)
    }

    func rejectAll(_ entries: [TOMLEntry], in place: String) throws {
        if let first = entries.first { throw error(first, "not allowed in \(place)") }
    }

    mutating func daemon(_ entries: [TOMLEntry]) throws -> DaemonSettings {
        var d = DaemonSettings()
        for e in entries {
            switch e.key {
            case "socket": d.socketPath = try nonEmptyString(e)
            case "socket_mode": d.socketMode = try mode(e)
            case "plugin_dir": d.pluginDirectories = try stringOrStrings(e)
            case "allow_untrusted_plugins": d.allowsUntrustedPlugins = try boolean(e)
            case "memory_budget": d.memoryBudget = try bytes(e)
            case "threads": d.threads = try integer(e, 0...1024)
            case "default_tier": d.defaultTier = try nonEmptyString(e)
            case "max_queue": d.maxQueue = try integer(e, 1...100_000)
            case "max_batch": d.maxBatch = try integer(e, 1...256)
            case "max_frame_bytes": d.maxFrameBytes = try integer(e, 1024...(1 << 30))
            case "max_queued_reply_bytes": d.maxQueuedReplyBytes = try byteLimit(e, 4096...(1 << 30))
            case "slow_client_timeout": d.slowClientTimeout = try timeout(e, allowsNever: false) ?? d.slowClientTimeout
            case "idle_timeout": d.idleTimeout = try timeout(e, allowsNever: true)
            case "max_connections_per_uid": d.maxConnectionsPerUID = try integer(e, 1...100_000)
            case "admin_group": d.adminGroup = try groupName(e)
            case "log_level": d.logLevel = try logLevel(e)
            default: throw error(e, "unknown key in [daemon]")
            }
        }
        return d
    }

    mutating func tier(name: String, line: Int, _ entries: [TOMLEntry]) throws -> TierSettings {
        guard let plugin = entries.first(where: { $0.key == "plugin" }) else {
            throw ConfigError(path: path, line: line, key: "plugin", message: "[tiers.\(name)] needs a plugin (e.g. \"dense\")")
        }
        let model = entries.first(where: { $0.key == "model" })
        let url = entries.first(where: { $0.key == "url" })
        let pluginName = try pluginName(plugin)
        if pluginName == "remote" && url == nil {
            throw ConfigError(path: path, line: line, key: "url", message: "[tiers.\(name)] with plugin = \"remote\" needs a url (e.g. \"http://127.0.0.1:8000/v1\")")
        }
        if model == nil && url == nil {
            throw ConfigError(path: path, line: line, key: "model", message: "[tiers.\(name)] needs a model path (or a url, for plugin = \"remote\")")
        }
        var t = TierSettings(name: name, plugin: pluginName, model: try model.map(nonEmptyString) ?? "")
        for e in entries where e.key != "plugin" && e.key != "model" {
            if try applyRemote(e, to: &t) { continue }
            try apply(e, to: &t)
        }
        if url != nil && !t.pluginSettings.contains(where: { $0.key == "remote_model" }) {
            t.pluginSettings.append(PluginSetting(key: "remote_model", value: name))  // the upstream's model is the tier's name
        }
        return t
    }

    private func apply(_ e: TOMLEntry, to t: inout TierSettings) throws {
        switch e.key {
        case "context": t.context = try integer(e, 16...(1 << 20))
        case "threads": t.threads = try integer(e, 0...1024)
        case "experts_used": t.expertsUsed = try integer(e, 0...1024)
        case "kv_type": t.kvType = try kvType(e)
        case "keep_alive": t.keepAlive = try duration(e)
        case "pinned": t.isPinned = try boolean(e)
        // The same ranges a request's overrides are checked against.
        case "temperature": t.generation.sampling.temperature = try float(e, GenerationLimits.temperature)
        case "top_k": t.generation.sampling.topK = try integer(e, GenerationLimits.topK)
        case "top_p": t.generation.sampling.topP = try float(e, GenerationLimits.topP)
        case "min_p": t.generation.sampling.minP = try float(e, GenerationLimits.minP)
        case "repeat_penalty": t.generation.sampling.repetitionPenalty = try float(e, GenerationLimits.repeatPenalty)
        case "repeat_last_n": t.generation.sampling.repetitionWindow = try integer(e, GenerationLimits.repeatLastN)
        case "seed": try seed(e, into: &t)
        case "max_tokens": t.generation.maxTokens = try integer(e, GenerationLimits.maxTokens)
        case "stop": t.generation.stopStrings = try stops(e)
        case "context_shift": t.generation.contextShift = try boolean(e)
        case "prefix_cache": t.prefixCache.sequences = try integer(e, 0...1024)
        case "prefix_cache_bytes": t.prefixCache.bytes = try bytes(e) ?? PrefixCacheLimits().bytes
        default: throw error(e, "unknown key in [tiers.\(t.name)]")
        }
    }

    /// A seed (the same output for the same request) or "random".
    private func seed(_ e: TOMLEntry, into t: inout TierSettings) throws {
        if case .string(let word) = e.value {
            guard word == "random" else { throw error(e, "expected an integer seed or \"random\", found \"\(word)\"") }
            t.isSeedRandom = true
            return
        }
        t.generation.sampling.seed = UInt64(try integer(e, 0...Int(Int64.max)))
        t.isSeedRandom = false
    }

    // MARK: typed readers

    func string(_ e: TOMLEntry) throws -> String {
        guard case .string(let s) = e.value else { throw error(e, "expected a string, found \(e.value.typeName)") }
        return s
    }

    func nonEmptyString(_ e: TOMLEntry) throws -> String {
        let s = try string(e)
        guard !s.isEmpty else { throw error(e, "must not be empty") }
        return s
    }

    func stringOrStrings(_ e: TOMLEntry) throws -> [String] {
        if case .array(let values) = e.value {
            return try values.map { try string(TOMLEntry(key: e.key, value: $0, line: e.line)) }
        }
        return [try string(e)]
    }

    func kvType(_ e: TOMLEntry) throws -> KVCacheKind {
        let name = try string(e)
        guard let kind = KVCacheKind(name: name) else {
            throw error(e, "unknown KV cache type '\(name)' (use \"f16\", \"q8_0\" or \"f32\")")
        }
        return kind
    }

    func stops(_ e: TOMLEntry) throws -> [String] {
        let stops = try stringOrStrings(e)
        if let problem = GenerationLimits.problem(withStops: stops) { throw error(e, problem) }
        return stops
    }

    func pluginName(_ e: TOMLEntry) throws -> String {
        let s = try nonEmptyString(e)
        let allowed = s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "/" || $0 == "." }
        guard allowed else { throw error(e, "plugin must be a name like \"dense\" or a path to a .so") }
        return s
    }

    func integer(_ e: TOMLEntry, _ range: ClosedRange<Int>) throws -> Int {
        guard case .integer(let v) = e.value else { throw error(e, "expected an integer, found \(e.value.typeName)") }
        guard let value = Int(exactly: v) else { throw error(e, "\(v) does not fit in an integer") }
        if let problem = GenerationLimits.problem(with: value, in: range) { throw error(e, problem) }
        return value
    }

    func float(_ e: TOMLEntry, _ range: ClosedRange<Float>) throws -> Float {
        let value: Float
        switch e.value {
        case .float(let v): value = Float(v)
        case .integer(let v): value = Float(v)
        default: throw error(e, "expected a number, found \(e.value.typeName)")
        }
        if let problem = GenerationLimits.problem(with: value, in: range) { throw error(e, problem) }
        return value
    }

    func boolean(_ e: TOMLEntry) throws -> Bool {
        guard case .boolean(let b) = e.value else { throw error(e, "expected true or false, found \(e.value.typeName)") }
        return b
    }

    /// An octal mode: the string "0660", or the integer 0o660.
    func mode(_ e: TOMLEntry) throws -> UInt32 {
        let value: UInt32?
        switch e.value {
        case .string(let s): value = UInt32(s, radix: 8)
        case .integer(let v): value = UInt32(exactly: v)
        default: value = nil
        }
        guard let value, value <= 0o777 else { throw error(e, "expected an octal mode such as \"0660\"") }
        return value
    }
}

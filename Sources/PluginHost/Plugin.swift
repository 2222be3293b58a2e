import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Settings for opening a model through a plugin.
public struct OpenParameters: Sendable, Equatable {
    public var path: String
    public var contextLength: UInt32
    public var threads: UInt32
    public var expertsUsed: UInt32
    public var maxSequences: UInt32
    public var kvType: KVCacheKind
    /// The tier's plugin-specific keys (`moe_open_params.settings`).
    public var settings: [PluginSetting]

    public init(path: String, contextLength: UInt32 = 0, threads: UInt32 = 0,
                expertsUsed: UInt32 = 0, maxSequences: UInt32 = 1, kvType: KVCacheKind = .standard,
                settings: [PluginSetting] = []) {
        self.path = path
        self.contextLength = contextLength
        self.threads = threads
        self.expertsUsed = expertsUsed
        self.maxSequences = maxSequences
        self.kvType = kvType
        self.settings = settings
    }
}

/// One plugin-specific key of a tier (e.g. the remote plugin's `url`).
public struct PluginSetting: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Bytes a model would take, from the plugin's estimate.
public struct MemoryEstimate: Sendable, Equatable {
    public var weightBytes: UInt64
    public var cacheBytes: UInt64
    public var scratchBytes: UInt64

    public init(weightBytes: UInt64, cacheBytes: UInt64, scratchBytes: UInt64) {
        self.weightBytes = weightBytes
        self.cacheBytes = cacheBytes
        self.scratchBytes = scratchBytes
    }

    /// The sum, saturating rather than trapping on hostile figures.
    public var totalBytes: UInt64 {
        let (partial, overflow1) = weightBytes.addingReportingOverflow(cacheBytes)
        let (total, overflow2) = partial.addingReportingOverflow(scratchBytes)
        return overflow1 || overflow2 ? .max : total
    }
}

/// A loaded plugin: its validated function table. Never unloaded.
public final class Plugin: @unchecked Sendable {
    /// The file it came from.
    public let path: String
    /// The plugin's short name, e.g. "dense".
    public let name: String
    /// The plugin's own version string.
    public let version: String
    let api: UnsafePointer<moe_plugin_api>
    /// The prefix-reuse entries, when the plugin has them all.
    let sequenceEditing: SequenceEditing?
    /// The text-level entry, when the plugin serves text, not tokens.
    let textGeneration: TextGenerationEntry?

    init(path: String, api: UnsafePointer<moe_plugin_api>) {
        self.path = path
        self.api = api
        self.sequenceEditing = SequenceEditing(api)
        self.textGeneration = TextGenerationEntry(api)
        self.name = String(cString: api.pointee.name)
        self.version = String(cString: api.pointee.version)
    }

    /// What opening with `parameters` would cost, without opening.
    public func estimate(_ parameters: OpenParameters) throws -> MemoryEstimate {
        var estimate = moe_memory_estimate()
        let status = withParams(parameters) { api.pointee.estimate($0, &estimate) }
        try check(status, "estimate")
        return MemoryEstimate(weightBytes: estimate.weight_bytes,
                              cacheBytes: estimate.cache_bytes,
                              scratchBytes: estimate.scratch_bytes)
    }

    /// Opens a model; `progress` gets fractions in [0, 1] while it loads.
    public func open(_ parameters: OpenParameters,
                     progress: @escaping (Float) -> Void = { _ in }) throws -> PluginModel {
        let box = Unmanaged.passRetained(ProgressBox(progress))
        defer { box.release() }
        var model: OpaquePointer?
        let status = withParams(parameters) { params in
            api.pointee.open(params, { context, fraction in
                guard let context else { return }
                Unmanaged<ProgressBox>.fromOpaque(context).takeUnretainedValue().report(fraction)
            }, box.toOpaque(), &model)
        }
        try check(status, "open")
        guard let model else {
            throw PluginCallError(code: MOE_ERR_INTERNAL.rawValue, operation: "open",
                                  message: "plugin returned success without a model")
        }
        return try PluginModel(plugin: self, handle: model)
    }

    func check(_ status: Int32, _ operation: String) throws {
        guard status != MOE_OK.rawValue else { return }
        let message = api.pointee.last_error().map { String(cString: $0) } ?? ""
        throw PluginCallError(code: status, operation: operation, message: message)
    }

    private func withParams<R>(_ p: OpenParameters, _ body: (UnsafePointer<moe_open_params>) -> R) -> R {
        let strings = p.settings.flatMap { [strdup($0.key), strdup($0.value)] }
        defer { strings.forEach { free($0) } }
        let settings = stride(from: 0, to: strings.count, by: 2).map {
            moe_setting(key: strings[$0], value: strings[$0 + 1])
        }
        return p.path.withCString { path in
            settings.withUnsafeBufferPointer { list in
                var params = moe_open_params(path: path, context_length: p.contextLength,
                                             threads: p.threads, experts_used: p.expertsUsed,
                                             max_sequences: p.maxSequences, kv_type: p.kvType.abiValue,
                                             settings: list.isEmpty ? nil : list.baseAddress, setting_count: list.count)
                return body(&params)
            }
        }
    }
}

/// Carries a Swift closure through the C progress callback's context.
private final class ProgressBox {
    let report: (Float) -> Void
    init(_ report: @escaping (Float) -> Void) { self.report = report }
}

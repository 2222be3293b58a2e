import MoeAPI
import PluginHost

/// Opens tier models through plugins found in the configured directories.
public final class PluginBackends: BackendProvider {
    private let loader = PluginLoader()
    private let lock = NSLockLite()
    private var directories: [String]
    private var allowsUntrusted: Bool
    private var loadErrors: [String: String] = [:]
    private let threads: () -> Int

    public init(directories: [String], allowingUntrusted: Bool = false, threads: @escaping () -> Int) {
        self.directories = directories
        self.allowsUntrusted = allowingUntrusted
        self.threads = threads
    }

    /// Replaces the search path and the trust setting (after a config
    /// reload); both apply to plugins not loaded yet.
    public func setDirectories(_ directories: [String], allowingUntrusted: Bool) {
        lock.lock()
        self.directories = directories
        self.allowsUntrusted = allowingUntrusted
        lock.unlock()
    }

    private func plugin(named name: String) throws -> Plugin {
        lock.lock()
        let searched = directories
        let allowingUntrusted = allowsUntrusted
        lock.unlock()
        guard let path = PluginLoader.locate(plugin: name, in: searched) else {
            let message = "plugin \(name): \(PluginLoader.fileName(forPlugin: name)) not found in \(searched.joined(separator: ", "))"
            record(name, message)
            throw StepError(message)
        }
        do {
            return try loader.load(path: path, threads: UInt32(clamping: threads()), allowingUntrusted: allowingUntrusted)
        } catch {
            record(name, "\(error)")
            throw error
        }
    }

    private func record(_ name: String, _ message: String) {
        lock.lock()
        loadErrors[name] = message
        lock.unlock()
    }

    private func parameters(_ tier: TierSettings, maxSequences: Int) -> OpenParameters {
        OpenParameters(path: tier.model, contextLength: UInt32(clamping: tier.context),
                       threads: UInt32(clamping: tier.threads > 0 ? tier.threads : threads()),
                       expertsUsed: UInt32(clamping: tier.expertsUsed), maxSequences: UInt32(clamping: maxSequences),
                       kvType: tier.kvType, settings: tier.pluginSettings)
    }

    public func estimate(_ tier: TierSettings, maxSequences: Int) throws -> UInt64 {
        try memoryEstimate(tier, maxSequences: maxSequences).totalBytes
    }

    public func memoryEstimate(_ tier: TierSettings, maxSequences: Int) throws -> MemoryEstimate {
        try plugin(named: tier.plugin).estimate(parameters(tier, maxSequences: maxSequences))
    }

    /// Opens through the plugin, with moed's own hold on the file (see
    /// `ModelFile`): a file changed during the load fails it, and the
    /// model comes back watched for changes after it.
    public func open(_ tier: TierSettings, maxSequences: Int, progress: @escaping (Float) -> Void) throws -> ModelBackend {
        let plugin = try plugin(named: tier.plugin)
        let file = tier.model.isEmpty ? nil : ModelFile(path: tier.model)  // a remote tier has no file
        let faults = FaultGuard.count
        let model = try plugin.open(parameters(tier, maxSequences: maxSequences), progress: progress)
        guard let file else { return model }
        do {
            try file.confirmLoaded(faultsSince: faults)
        } catch {
            model.close()
            throw error
        }
        return WatchedModel(model, file: file)
    }

    public func pluginReport(for tiers: [TierSettings]) -> [PluginInfo] {
        lock.lock()
        let searched = directories
        let errors = loadErrors
        lock.unlock()
        let loaded = loader.loadedPlugins
        var names: [String] = []
        for tier in tiers where !names.contains(tier.plugin) { names.append(tier.plugin) }
        return names.map { name in
            var info = PluginInfo()
            info.name = name
            info.path = PluginLoader.locate(plugin: name, in: searched) ?? ""
            if let plugin = loaded.first(where: { $0.path == info.path }) {
                info.isLoaded = true
                info.version = plugin.version
            } else {
                info.error = errors[name] ?? (info.path.isEmpty ? "not found in \(searched.joined(separator: ", "))" : "")
            }
            return info
        }
    }
}

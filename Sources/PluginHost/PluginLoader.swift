import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds and loads plugin shared objects.
///
/// Plugins are opened with `RTLD_NODELETE`: `dlclose` of a Swift library
/// really unmaps its code and the Swift runtime later crashes scanning
/// metadata that pointed into it. So a loaded plugin's code stays mapped
/// for the life of the process; "unloading" a tier closes its model (which
/// frees weights and caches), never the code. Loading the same path twice
/// returns the same `Plugin`, so init runs once per file.
///
/// Before anything of a file runs, its real path must pass `trust` (see
/// `FileTrust`): a plugin is code run as moed's user, often root.
public final class PluginLoader: @unchecked Sendable {
    private let lock = Lock()
    /// By real path, so a symlink and its target are one plugin.
    private var loaded: [String: Plugin] = [:]
    private let trust: FileTrust

    public init(trust: FileTrust = .forThisProcess) {
        self.trust = trust
    }

    /// The file name a plugin called `name` has: `libmoe_<name>.so`.
    public static func fileName(forPlugin name: String) -> String {
        "libmoe_\(name).so"
    }

    /// The first existing file for plugin `name` in `directories`, or the
    /// name itself if it is a path (contains a slash).
    public static func locate(plugin name: String, in directories: [String]) -> String? {
        if name.contains("/") { return name }
        for directory in directories {
            let candidate = directory + "/" + fileName(forPlugin: name)
            if access(candidate, F_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Loads the plugin at `path`, checking every step. `allowingUntrusted`
    /// skips the ownership and permission check (`allow_untrusted_plugins`);
    /// a plugin already loaded is returned as it is, checked or not.
    public func load(path: String, threads: UInt32 = 1, allowingUntrusted: Bool = false) throws -> Plugin {
        let realPath = try Self.resolve(path)
        lock.lock()
        defer { lock.unlock() }
        if let plugin = loaded[realPath] { return plugin }
        try checkFile(path: path, realPath: realPath, allowingUntrusted: allowingUntrusted)
        let plugin = try Self.open(path: path, realPath: realPath, threads: threads)
        loaded[realPath] = plugin
        return plugin
    }

    /// Plugins loaded so far, by path.
    public var loadedPlugins: [Plugin] {
        lock.lock()
        defer { lock.unlock() }
        return loaded.values.sorted { $0.path < $1.path }
    }

    /// The real path behind `path`: what is checked is what gets opened,
    /// so swapping a symlink after the check changes nothing.
    private static func resolve(_ path: String) throws -> String {
        guard access(path, F_OK) == 0, let realPath = FileTrust.realPath(path) else {
            throw PluginLoadError(step: .fileMissing, path: path, detail: "no such file")
        }
        return realPath
    }

    /// Only regular files load (dlopen would block forever on a FIFO and
    /// read a device), and only trusted ones unless the operator says so.
    private func checkFile(path: String, realPath: String, allowingUntrusted: Bool) throws {
        var info = stat()
        guard stat(realPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw PluginLoadError(step: .dlopenFailed, path: path, detail: "not a regular file")
        }
        guard !allowingUntrusted, let doubt = trust.doubt(aboutFile: realPath, status: info) else { return }
        throw PluginLoadError(step: .untrusted, path: path,
                              detail: "\(doubt); set [daemon] allow_untrusted_plugins = true to load it anyway")
    }

    private static func open(path: String, realPath: String, threads: UInt32) throws -> Plugin {
        guard let handle = dlopen(realPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw PluginLoadError(step: .dlopenFailed, path: path, detail: dlerrorText())
        }
        let probe: moe_plugin_probe_fn = try symbol(MOE_PLUGIN_PROBE_SYMBOL, in: handle, path: path)
        let initialize: moe_plugin_init_fn = try symbol(MOE_PLUGIN_INIT_SYMBOL, in: handle, path: path)
        try runProbe(probe, path: path, threads: threads)
        let api = PluginTable.hostCopy(of: try runInit(initialize, path: path))
        return Plugin(path: path, api: try validate(api, path: path))
    }

    private static func symbol<F>(_ name: String, in handle: UnsafeMutableRawPointer, path: String) throws -> F {
        _ = dlerror()
        guard let raw = dlsym(handle, name) else {
            throw PluginLoadError(step: .symbolMissing, path: path, detail: "\(name) is not exported")
        }
        return unsafeBitCast(raw, to: F.self)
    }

    private static func runProbe(_ probe: moe_plugin_probe_fn, path: String, threads: UInt32) throws {
        var host = moe_host_info(abi_version: MOE_PLUGIN_ABI_VERSION, threads: threads)
        var reason = [CChar](repeating: 0, count: 512)
        let status = probe(&host, &reason, reason.count - 1)
        guard status == MOE_OK.rawValue else {
            let text = String(cString: reason)
            throw PluginLoadError(step: .probeRefused, path: path,
                                  detail: text.isEmpty ? "status \(status)" : text)
        }
    }

    private static func runInit(_ initialize: moe_plugin_init_fn, path: String) throws -> UnsafePointer<moe_plugin_api> {
        var api: UnsafePointer<moe_plugin_api>?
        let status = initialize(MOE_PLUGIN_ABI_VERSION, &api)
        if status == MOE_ERR_ABI_MISMATCH.rawValue {
            throw PluginLoadError(step: .abiMismatch, path: path,
                                  detail: "plugin refused host ABI \(MOE_PLUGIN_ABI_VERSION)")
        }
        guard status == MOE_OK.rawValue, let api else {
            throw PluginLoadError(step: .initFailed, path: path,
                                  detail: "status \(status)\(api == nil ? ", no table" : "")")
        }
        return api
    }

    /// The plugin's table copied into one of this host's size, the optional
    /// entries it does not reach left NULL, so every later read is in bounds.
    /// Made once per plugin, which is never unloaded.
    /// Checks the table (the host's full-size copy) and returns it.
    private static func validate(_ api: UnsafePointer<moe_plugin_api>, path: String) throws -> UnsafePointer<moe_plugin_api> {
        // Only the fixed head of the table is read until its size is known.
        let head = UnsafeRawPointer(api)
        let abiVersion = head.load(fromByteOffset: MemoryLayout<moe_plugin_api>.offset(of: \moe_plugin_api.abi_version)!, as: UInt32.self)
        guard abiVersion == MOE_PLUGIN_ABI_VERSION else {
            throw PluginLoadError(step: .abiMismatch, path: path,
                                  detail: "plugin has ABI \(abiVersion), host has \(MOE_PLUGIN_ABI_VERSION)")
        }
        let structSize = head.load(fromByteOffset: MemoryLayout<moe_plugin_api>.offset(of: \moe_plugin_api.struct_size)!, as: UInt32.self)
        // Entries appended since ABI 1 are optional: a table that ends
        // before them is an older plugin, still valid (`PluginTable`).
        guard structSize >= UInt32(PluginTable.requiredSize) else {
            throw PluginLoadError(step: .tableInvalid, path: path,
                                  detail: "table is \(structSize) bytes, expected at least \(PluginTable.requiredSize)")
        }
        // `api` is already the host's full-size copy (`PluginTable.hostCopy`).
        let missing = missingFunctions(api.pointee)
        guard missing.isEmpty else {
            throw PluginLoadError(step: .tableInvalid, path: path,
                                  detail: "NULL entries: \(missing.joined(separator: ", "))")
        }
        return api
    }

    private static func missingFunctions(_ t: moe_plugin_api) -> [String] {
        let entries: [(String, Bool)] = [
            ("last_error", t.last_error != nil), ("estimate", t.estimate != nil),
            ("open", t.open != nil), ("describe", t.describe != nil),
            ("tokenize", t.tokenize != nil), ("detokenize", t.detokenize != nil),
            ("render_chat", t.render_chat != nil), ("sequence_create", t.sequence_create != nil),
            ("sequence_clear", t.sequence_clear != nil), ("sequence_remove", t.sequence_remove != nil),
            ("evaluate", t.evaluate != nil), ("expert_stats", t.expert_stats != nil),
            ("routing_entropy", t.routing_entropy != nil),
            ("close", t.close != nil), ("name", t.name != nil), ("version", t.version != nil),
        ]
        return entries.filter { !$0.1 }.map(\.0)
    }

    private static func dlerrorText() -> String {
        guard let text = dlerror() else { return "unknown dlopen error" }
        return String(cString: text)
    }
}

/// A tiny pthread mutex; Foundation-free so plugins and host stay lean.
final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

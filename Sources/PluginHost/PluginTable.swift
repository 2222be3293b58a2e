import CMoePlugin

/// Which entries of a plugin's table the host may call. The entries of
/// ABI 1 are required (the loader refuses a table without them); entries
/// appended to the end of `moe_plugin_api` since are optional: the host
/// reads one only when the plugin's `struct_size` covers it and it is not
/// NULL, so a plugin built against an older header keeps working and
/// simply offers less.
enum PluginTable {
    /// Bytes of the ABI 1 table: everything up to the first optional entry.
    static let requiredSize = MemoryLayout<moe_plugin_api>.offset(of: \moe_plugin_api.sequence_truncate)
        ?? MemoryLayout<moe_plugin_api>.size

    /// The plugin's table copied into a full-size, zero-filled one the host
    /// owns (and never frees: plugins are never unloaded): an older
    /// plugin's shorter table is never read past its end, and the entries
    /// it lacks read as NULL. `struct_size` keeps the plugin's figure.
    static func hostCopy(of api: UnsafePointer<moe_plugin_api>) -> UnsafePointer<moe_plugin_api> {
        let size = MemoryLayout<moe_plugin_api>.size
        let raw = UnsafeRawPointer(api)
        let sizeOffset = MemoryLayout<moe_plugin_api>.offset(of: \moe_plugin_api.struct_size) ?? 4
        let claimed = Int(raw.loadUnaligned(fromByteOffset: sizeOffset, as: UInt32.self))
        let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<moe_plugin_api>.alignment)
        copy.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        copy.copyMemory(from: raw, byteCount: min(max(claimed, 8), size))  // the version and size fields always
        keep(copy)
        return UnsafePointer(copy.assumingMemoryBound(to: moe_plugin_api.self))
    }

    /// Every copy, held for the life of the process as the tables are:
    /// reachable, so a leak checker (LeakSanitizer at exit) does not take
    /// them for leaks once the loader that asked for them is gone.
    nonisolated(unsafe) private static var copies: [UnsafeMutableRawPointer] = []
    private static let copiesLock = Lock()

    private static func keep(_ copy: UnsafeMutableRawPointer) {
        copiesLock.lock()
        copies.append(copy)
        copiesLock.unlock()
    }

    /// Whether the table at `api` is long enough to hold the field at `keyPath`.
    static func covers<T>(_ api: UnsafePointer<moe_plugin_api>, _ keyPath: KeyPath<moe_plugin_api, T>) -> Bool {
        guard let offset = MemoryLayout<moe_plugin_api>.offset(of: keyPath) else { return false }
        return Int(api.pointee.struct_size) >= offset + MemoryLayout<T>.size
    }
}

/// The prefix-reuse entries of a table (docs/plugin-abi.md, "Prefix
/// reuse"): present only when the plugin has all three.
struct SequenceEditing {
    let truncate: @convention(c) (OpaquePointer?, Int32, UInt32) -> Int32
    let copy: @convention(c) (OpaquePointer?, Int32, Int32, UInt32) -> Int32
    let bytes: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<UInt64>?) -> Int32

    init?(_ api: UnsafePointer<moe_plugin_api>) {
        guard PluginTable.covers(api, \.sequence_bytes),
              let truncate = api.pointee.sequence_truncate, let copy = api.pointee.sequence_copy,
              let bytes = api.pointee.sequence_bytes else { return nil }
        self.truncate = truncate
        self.copy = copy
        self.bytes = bytes
    }
}

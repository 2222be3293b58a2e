import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Builds the C entry points for one `PluginBackend` type.
public enum PluginKit {
    /// The backend this plugin serves; set by `initialize`.
    nonisolated(unsafe) static var backend: PluginBackend.Type?
    nonisolated(unsafe) static var table: UnsafeMutablePointer<moe_plugin_api>?

    /// Body of `moe_plugin_probe`.
    public static func probe(_ backend: PluginBackend.Type, host: UnsafePointer<moe_host_info>?,
                             reason: UnsafeMutablePointer<CChar>?, capacity: Int) -> Int32 {
        guard let host, host.pointee.abi_version == MOE_PLUGIN_ABI_VERSION else {
            copy("\(backend.pluginName) plugin speaks ABI \(MOE_PLUGIN_ABI_VERSION) only", to: reason, capacity: capacity)
            return MOE_ERR_ABI_MISMATCH.rawValue
        }
        if let refusal = backend.refusal(host: host.pointee) {
            copy(refusal, to: reason, capacity: capacity)
            return MOE_ERR_UNSUPPORTED.rawValue
        }
        return MOE_OK.rawValue
    }

    /// Body of `moe_plugin_init`.
    public static func initialize(_ backend: PluginBackend.Type, hostVersion: UInt32,
                                  out: UnsafeMutablePointer<UnsafePointer<moe_plugin_api>?>?) -> Int32 {
        guard let out else { return MOE_ERR_INVALID_ARGUMENT.rawValue }
        guard hostVersion == MOE_PLUGIN_ABI_VERSION else { return MOE_ERR_ABI_MISMATCH.rawValue }
        if table == nil {
            self.backend = backend
            table = makeTable(backend)
        }
        out.pointee = UnsafePointer(table)
        return MOE_OK.rawValue
    }

    static func model(_ pointer: OpaquePointer?) throws -> PluginBackend {
        guard let pointer else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL model") }
        guard let model = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue() as? PluginBackend else {
            throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "not a model of this plugin")
        }
        return model
    }

    static func request(_ params: UnsafePointer<moe_open_params>?) throws -> OpenRequest {
        guard let p = params?.pointee, let path = p.path else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL params or path") }
        return OpenRequest(path: String(cString: path), contextLength: Int(p.context_length), threads: Int(p.threads),
                           expertsUsed: Int(p.experts_used), maxSequences: max(Int(p.max_sequences), 1),
                           kvType: p.kv_type)
    }

    /// Runs `body`, turning a thrown error into a status and last_error.
    public static func run(_ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return MOE_OK.rawValue
        } catch let failure as PluginFailure {
            setLastError(failure.message)
            return failure.status.rawValue
        } catch {
            setLastError("\(error)")
            return MOE_ERR_INTERNAL.rawValue
        }
    }

    /// Copies `values` out, or reports the needed count.
    static func emit<T>(_ values: [T], into buffer: UnsafeMutablePointer<T>?, capacity: Int,
                        count: UnsafeMutablePointer<Int>?) throws {
        guard let count else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL count") }
        count.pointee = values.count
        guard values.count <= capacity else {
            throw PluginFailure(MOE_ERR_BUFFER_TOO_SMALL, "buffer of \(capacity) too small for \(values.count)")
        }
        if !values.isEmpty {
            guard let buffer else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL buffer") }
            values.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: values.count) }
        }
    }

    public static func copy(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
        guard let buffer, capacity > 0 else { return }
        _ = strncpy(buffer, text, capacity - 1)
        buffer[capacity - 1] = 0
    }
}

// Per-thread last error: a pthread key holding a malloc'd C string.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

public func setLastError(_ text: String) {
    free(pthread_getspecific(errorKey))
    pthread_setspecific(errorKey, strdup(text))
}

public func lastErrorPointer() -> UnsafePointer<CChar> {
    if pthread_getspecific(errorKey) == nil { setLastError("") }
    return UnsafePointer(pthread_getspecific(errorKey)!.assumingMemoryBound(to: CChar.self))
}

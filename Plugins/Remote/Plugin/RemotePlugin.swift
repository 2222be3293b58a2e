import CMoePlugin
import MoePluginKit
import MoeRemoteHTTP
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The remote plugin: a tier served by an OpenAI-compatible upstream
// (llama-server, llama-cpp-python, vLLM, moegate), through the ABI's
// text-level entry `generate_text`. It holds no weights and no KV cache;
// the token-level entries refuse, by name.

@_cdecl("moe_plugin_probe")
public func moeRemoteProbe(_ host: UnsafePointer<moe_host_info>?, _ reason: UnsafeMutablePointer<CChar>?,
                           _ capacity: Int) -> Int32 {
    guard let host, host.pointee.abi_version == MOE_PLUGIN_ABI_VERSION else {
        PluginKit.copy("remote plugin speaks ABI \(MOE_PLUGIN_ABI_VERSION) only", to: reason, capacity: capacity)
        return MOE_ERR_ABI_MISMATCH.rawValue
    }
    return MOE_OK.rawValue
}

@_cdecl("moe_plugin_init")
public func moeRemoteInit(_ hostVersion: UInt32, _ out: UnsafeMutablePointer<UnsafePointer<moe_plugin_api>?>?) -> Int32 {
    guard let out else { return MOE_ERR_INVALID_ARGUMENT.rawValue }
    guard hostVersion == MOE_PLUGIN_ABI_VERSION else { return MOE_ERR_ABI_MISMATCH.rawValue }
    out.pointee = UnsafePointer(remoteTable)
    return MOE_OK.rawValue
}

/// An open remote tier: its upstream. Immutable, so `generate_text` may
/// run on several threads at once.
final class RemoteModel {
    let client: UpstreamClient
    init(_ settings: RemoteSettings) {
        client = UpstreamClient(url: settings.url, model: settings.model, apiKey: settings.apiKey, timeout: settings.timeout)
    }
}

func remote(_ model: OpaquePointer?) throws -> RemoteModel {
    guard let model else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL model") }
    return Unmanaged<RemoteModel>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue()
}

private func refuse(_ what: String) -> Int32 {
    setLastError("the remote plugin generates text through its upstream; it has no \(what)")
    return MOE_ERR_UNSUPPORTED.rawValue
}

/// Nothing is held here: the upstream holds the model.
private func noMemory(_ settings: UnsafePointer<moe_open_params>?, _ out: UnsafeMutablePointer<moe_memory_estimate>?) -> Int32 {
    PluginKit.run {
        _ = try RemoteSettings(settings)
        guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL estimate") }
        out.pointee = moe_memory_estimate()
    }
}

nonisolated(unsafe) private let remoteTable: UnsafeMutablePointer<moe_plugin_api> = {
    var api = moe_plugin_api()
    api.abi_version = MOE_PLUGIN_ABI_VERSION
    api.struct_size = UInt32(MemoryLayout<moe_plugin_api>.size)
    api.name = UnsafePointer(strdup("remote"))
    api.version = UnsafePointer(strdup("1.0"))
    api.last_error = { lastErrorPointer() }
    api.estimate = noMemory
    api.open = { params, _, _, out in
        PluginKit.run {
            guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_model") }
            let model = RemoteModel(try RemoteSettings(params))
            out.pointee = OpaquePointer(Unmanaged.passRetained(model).toOpaque())
        }
    }
    api.describe = { model, out in
        PluginKit.run {
            guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL info") }
            let client = try remote(model).client
            var info = moe_model_info()
            withUnsafeMutableBytes(of: &info.architecture) { PluginKit.copy("remote", to: $0.baseAddress?.assumingMemoryBound(to: CChar.self), capacity: $0.count) }
            withUnsafeMutableBytes(of: &info.name) { PluginKit.copy(client.model, to: $0.baseAddress?.assumingMemoryBound(to: CChar.self), capacity: $0.count) }
            info.bos_token = -1
            info.eos_token = -1
            info.eot_token = -1
            out.pointee = info
        }
    }
    api.tokenize = { _, _, _, _, _, _, _, _ in refuse("tokenizer") }
    api.detokenize = { _, _, _, _, _, _ in refuse("tokenizer") }
    api.render_chat = { _, _, _, _, _, _, _ in refuse("chat template (the upstream applies its own)") }
    api.sequence_create = { _, _ in refuse("sequences") }
    api.sequence_clear = { _, _ in refuse("sequences") }
    api.sequence_remove = { _, _ in refuse("sequences") }
    api.evaluate = { _, _, _, _, _ in refuse("logits") }
    api.expert_stats = { _, _, _, count in PluginKit.run { try PluginKit.emitNothing(count) } }
    api.routing_entropy = { _, _, _, count in PluginKit.run { try PluginKit.emitNothing(count) } }
    api.close = { model in
        guard let model else { return }
        Unmanaged<RemoteModel>.fromOpaque(UnsafeRawPointer(model)).release()
    }
    api.memory_usage = { model, out in
        PluginKit.run {
            _ = try remote(model)
            guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_usage") }
            out.pointee = moe_memory_usage()
        }
    }
    api.memory_sequence_bytes = { _, _, out in
        PluginKit.run {
            guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_bytes") }
            out.pointee = 0
        }
    }
    api.text_generation_version = MOE_TEXT_GENERATION_VERSION
    api.generate_text = remoteGenerateText
    let table = UnsafeMutablePointer<moe_plugin_api>.allocate(capacity: 1)
    table.initialize(to: api)
    return table
}()

extension PluginKit {
    /// A dense answer to expert_stats and routing_entropy: no values.
    static func emitNothing(_ count: UnsafeMutablePointer<Int>?) throws {
        guard let count else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL count") }
        count.pointee = 0
    }
}

import CMoePlugin
import Inference
import MoeEngineBackend
import MoePluginKit

/// The dense backend (`libmoe_dense.so`): the engine for Llama-family files.
/// It also runs a file with experts, as llama.cpp does; the moe plugin adds
/// nothing to evaluation, it only insists on experts.
enum DenseFlavor: EngineFlavor {
    static let pluginName = "dense"
    static let pluginVersion = "0.1.0"
    static func check(_ h: Hyperparameters) throws {}
}

typealias DenseBackend = EngineBackend<DenseFlavor>

@_cdecl("moe_plugin_probe")
public func densePluginProbe(_ host: UnsafePointer<moe_host_info>?, _ reason: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    PluginKit.probe(DenseBackend.self, host: host, reason: reason, capacity: capacity)
}

@_cdecl("moe_plugin_init")
public func densePluginInit(_ hostVersion: UInt32, _ out: UnsafeMutablePointer<UnsafePointer<moe_plugin_api>?>?) -> Int32 {
    PluginKit.initialize(DenseBackend.self, hostVersion: hostVersion, out: out)
}

import CMoePlugin
import Inference
import MoeEngineBackend
import MoePluginKit

/// The Mixture-of-Experts backend (`libmoe_moe.so`): the same engine, taking
/// only files with experts (`expert_count` > 0). Attention is shared with the
/// dense path; each layer's FFN is routed experts, with the tier's
/// experts-used override and router counts for `moectl stats`.
enum MoEFlavor: EngineFlavor {
    static let pluginName = "moe"
    static let pluginVersion = "0.1.0"
    static func check(_ h: Hyperparameters) throws {
        guard h.isMixtureOfExperts else {
            throw PluginFailure(MOE_ERR_UNSUPPORTED, "\(h.architecture) file has no experts (expert_count 0); use the dense plugin")
        }
    }
}

typealias MoEBackend = EngineBackend<MoEFlavor>

@_cdecl("moe_plugin_probe")
public func moePluginProbe(_ host: UnsafePointer<moe_host_info>?, _ reason: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    PluginKit.probe(MoEBackend.self, host: host, reason: reason, capacity: capacity)
}

@_cdecl("moe_plugin_init")
public func moePluginInit(_ hostVersion: UInt32, _ out: UnsafeMutablePointer<UnsafePointer<moe_plugin_api>?>?) -> Int32 {
    PluginKit.initialize(MoEBackend.self, hostVersion: hostVersion, out: out)
}

import CMoePlugin

/// What a backend plugin implements in Swift; `PluginKit` turns it into
/// the C function table of moe_plugin.h. The dense and MoE plugins are
/// each one type conforming to this plus two `@_cdecl` entry points.
///
/// Each plugin links its own static copy of this module, so nothing here
/// is shared between plugins; only C types cross into the host.
public protocol PluginBackend: AnyObject {
    static var pluginName: String { get }
    static var pluginVersion: String { get }
    /// Nil if this CPU can run the plugin, else why not.
    static func refusal(host: moe_host_info) -> String?
    static func estimate(_ request: OpenRequest) throws -> moe_memory_estimate
    /// Opens the model; `progress` may be called with fractions in [0, 1].
    static func open(_ request: OpenRequest, progress: (Float) -> Void) throws -> Self

    func describe() -> ModelDescription
    /// Logits per row; asked on every evaluate, so it should be cheap.
    var vocabularySize: Int { get }
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32]
    func detokenize(_ tokens: [Int32]) throws -> [UInt8]
    func renderChat(_ messages: [(role: String, content: String)], addGenerationPrompt: Bool) throws -> String
    func createSequence() throws -> Int32
    func clearSequence(_ sequence: Int32) throws
    func removeSequence(_ sequence: Int32) throws
    /// Writes one logits row per item that wants one, in item order.
    func evaluate(_ items: [moe_batch_item], logits: UnsafeMutablePointer<Float>) throws
    /// layers × experts router counts, layer-major; empty for dense.
    func expertCounts() throws -> [UInt64]
    /// Per layer, the mean routing entropy in nats; empty for dense.
    func routingEntropy() throws -> [Double]
    /// Every token that ends a generation (`context_end_tokens`).
    func endOfGenerationTokens() throws -> [Int32]
    /// Bytes held now: weights (mapped or copied), KV cache, scratch.
    func memoryUsage() throws -> moe_memory_usage
    /// KV bytes one sequence takes at `positions` positions.
    func sequenceBytes(positions: Int) throws -> UInt64
}

extension PluginBackend {
    /// Without a fuller set: eos and eot as `describe` reports them.
    public func endOfGenerationTokens() throws -> [Int32] {
        let d = describe()
        return [d.eos, d.eot].compactMap { $0 }
    }

    public var vocabularySize: Int { describe().vocabularySize }

    public func memoryUsage() throws -> moe_memory_usage {
        throw PluginFailure(MOE_ERR_UNSUPPORTED, "this plugin does not report its memory")
    }

    public func sequenceBytes(positions: Int) throws -> UInt64 {
        throw PluginFailure(MOE_ERR_UNSUPPORTED, "this plugin does not report its memory")
    }
}

/// The open parameters as Swift values.
public struct OpenRequest {
    public var path: String
    public var contextLength: Int
    public var threads: Int
    public var expertsUsed: Int
    public var maxSequences: Int
    /// moe_open_params.kv_type: a moe_kv_cache_type value (0: the default).
    public var kvType: UInt32
}

/// What `describe` reports.
public struct ModelDescription {
    public var architecture: String
    public var name: String
    public var vocabularySize: Int
    public var contextLength: Int
    public var layers: Int
    public var experts: Int
    public var expertsUsed: Int
    public var bos: Int32?
    public var eos: Int32?
    public var eot: Int32?

    public init(architecture: String, name: String, vocabularySize: Int, contextLength: Int, layers: Int,
                experts: Int = 0, expertsUsed: Int = 0, bos: Int32?, eos: Int32?, eot: Int32?) {
        self.architecture = architecture
        self.name = name
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.layers = layers
        self.experts = experts
        self.expertsUsed = expertsUsed
        self.bos = bos
        self.eos = eos
        self.eot = eot
    }
}

/// A failure with the ABI status it maps to.
public struct PluginFailure: Error {
    public let status: moe_status
    public let message: String
    public init(_ status: moe_status, _ message: String) {
        self.status = status
        self.message = message
    }
}

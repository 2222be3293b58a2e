import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a plugin says about an open model.
public struct ModelInfo: Sendable, Equatable {
    public var architecture: String
    public var name: String
    public var vocabularySize: Int
    public var contextLength: Int
    public var layers: Int
    public var experts: Int
    public var expertsUsed: Int
    public var bosToken: Int32?
    public var eosToken: Int32?
    public var eotToken: Int32?
    /// Tokens that end a generation: the plugin's whole end-of-generation
    /// set when it reports one (`context_end_tokens`), else eos and eot.
    public var endOfGeneration: Set<Int32>

    public init(architecture: String, name: String, vocabularySize: Int, contextLength: Int, layers: Int,
                experts: Int, expertsUsed: Int, bosToken: Int32?, eosToken: Int32?, eotToken: Int32?) {
        self.architecture = architecture
        self.name = name
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.layers = layers
        self.experts = experts
        self.expertsUsed = expertsUsed
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.eotToken = eotToken
        self.endOfGeneration = Set([eosToken, eotToken].compactMap { $0 })
    }
}

/// One token of an evaluation batch.
public struct BatchItem: Sendable, Equatable {
    public var token: Int32
    public var position: Int32
    public var sequence: Int32
    public var wantsLogits: Bool

    public init(token: Int32, position: Int32, sequence: Int32, wantsLogits: Bool) {
        self.token = token
        self.position = position
        self.sequence = sequence
        self.wantsLogits = wantsLogits
    }
}

/// A chat turn for template rendering.
public struct ChatTurn: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A model opened by a plugin. Used by one thread at a time (the caller
/// serialises); `close()` frees the model, never the plugin's code.
public final class PluginModel: @unchecked Sendable {
    public let plugin: Plugin
    public let info: ModelInfo
    private var handle: OpaquePointer?
    private var api: moe_plugin_api { plugin.api.pointee }

    init(plugin: Plugin, handle: OpaquePointer) throws {
        self.plugin = plugin
        self.handle = handle
        var raw = moe_model_info()
        let status = plugin.api.pointee.describe(handle, &raw)
        do {
            try plugin.check(status, "describe")
        } catch {
            plugin.api.pointee.close(handle)
            throw error
        }
        var info = Self.convert(raw)
        if let ends = try Self.endTokens(plugin: plugin, handle: handle, vocabularySize: info.vocabularySize) {
            info.endOfGeneration.formUnion(ends)
        }
        self.info = info
    }

    /// The plugin's end-of-generation set, or nil when it has no
    /// `context_end_tokens`; ids outside the vocabulary are refused.
    private static func endTokens(plugin: Plugin, handle: OpaquePointer, vocabularySize: Int) throws -> Set<Int32>? {
        guard let entry = plugin.api.pointee.context_end_tokens else { return nil }
        var buffer = [Int32](repeating: -1, count: 64)
        var count = 0
        var status = entry(handle, &buffer, buffer.count, &count)
        if status == MOE_ERR_BUFFER_TOO_SMALL.rawValue, count > buffer.count, count <= 4096 {
            buffer = [Int32](repeating: -1, count: count)
            status = entry(handle, &buffer, buffer.count, &count)
        }
        do {
            try plugin.check(status, "context_end_tokens")
        } catch {
            plugin.api.pointee.close(handle)
            throw error
        }
        let ends = buffer.prefix(min(count, buffer.count))
        guard ends.allSatisfy({ $0 >= 0 && Int($0) < vocabularySize }) else {
            plugin.api.pointee.close(handle)
            throw PluginCallError(code: MOE_ERR_INTERNAL.rawValue, operation: "context_end_tokens",
                                  message: "a token outside the vocabulary of \(vocabularySize)")
        }
        return Set(ends)
    }

    deinit { close() }

    /// Frees the model. Safe to call twice.
    public func close() {
        guard let handle else { return }
        api.close(handle)
        self.handle = nil
    }

    public func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws -> [Int32] {
        let model = try open()
        var utf8 = Array(text.utf8)
        if utf8.isEmpty { utf8 = [0] }  // a valid pointer even for ""
        let length = text.utf8.count
        return try growing(operation: "tokenize", initial: length + 8, of: Int32.self) { buffer, capacity, count in
            utf8.withUnsafeBufferPointer { bytes in
                bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { chars in
                    api.tokenize(model, chars, length, addSpecial ? 1 : 0, parseSpecial ? 1 : 0,
                                 buffer, capacity, count)
                }
            }
        }
    }

    /// The bytes of `tokens`' pieces; may end inside a UTF-8 character.
    public func detokenize(_ tokens: [Int32]) throws -> [UInt8] {
        let model = try open()
        let chars = try growing(operation: "detokenize", initial: tokens.count * 8 + 16, of: CChar.self) { buffer, capacity, count in
            api.detokenize(model, tokens, tokens.count, buffer, capacity, count)
        }
        return chars.map { UInt8(bitPattern: $0) }
    }

    public func renderChat(_ turns: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        let model = try open()
        let roles = turns.map { strdup($0.role) }
        let contents = turns.map { strdup($0.content) }
        defer { (roles + contents).forEach { free($0) } }
        let messages = zip(roles, contents).map { moe_chat_message(role: $0, content: $1) }
        let initial = turns.reduce(256) { $0 + $1.content.utf8.count * 2 }
        let chars = try growing(operation: "render_chat", initial: initial, of: CChar.self) { buffer, capacity, count in
            api.render_chat(model, messages, messages.count, addGenerationPrompt ? 1 : 0, buffer, capacity, count)
        }
        return String(decoding: chars.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func createSequence() throws -> Int32 {
        var sequence: Int32 = -1
        try plugin.check(api.sequence_create(try open(), &sequence), "sequence_create")
        return sequence
    }

    public func clearSequence(_ sequence: Int32) throws {
        try plugin.check(api.sequence_clear(try open(), sequence), "sequence_clear")
    }

    public func removeSequence(_ sequence: Int32) throws {
        try plugin.check(api.sequence_remove(try open(), sequence), "sequence_remove")
    }

    /// Logits rows (vocabularySize floats each) for the items that want
    /// them: views of one buffer the plugin filled, so four streams' step
    /// copies no row (4 × 196 KB a step for SmolLM2's 49152 logits). Each
    /// slice keeps the buffer's indices (row i starts at i · vocabulary):
    /// read it from `startIndex` or through `withUnsafeBufferPointer`.
    public func evaluate(_ items: [BatchItem]) throws -> [ArraySlice<Float>] {
        let model = try open()
        let raw = items.map {
            moe_batch_item(token: $0.token, position: $0.position, sequence: $0.sequence,
                           want_logits: $0.wantsLogits ? 1 : 0)
        }
        let rows = items.filter(\.wantsLogits).count
        let vocabulary = info.vocabularySize
        // The plugin writes every float of the buffer (or fails and the
        // buffer is dropped), so it needs no zeroing.
        var status = MOE_OK.rawValue
        let flat = [Float](unsafeUninitializedCapacity: rows * vocabulary) { buffer, count in
            status = api.evaluate(model, raw, raw.count, buffer.baseAddress, buffer.count)
            count = buffer.count
        }
        try plugin.check(status, "evaluate")
        return (0..<rows).map { flat[$0 * vocabulary ..< ($0 + 1) * vocabulary] }
    }

    /// Router choices per layer and expert, layer-major; empty for dense.
    public func expertStatistics() throws -> [UInt64] {
        guard info.experts > 0 else { return [] }
        let model = try open()
        return try growing(operation: "expert_stats", initial: info.layers * info.experts, of: UInt64.self) { buffer, capacity, count in
            api.expert_stats(model, buffer, capacity, count)
        }
    }

    /// Mean routing entropy (nats) per layer since open; empty for dense.
    public func routingEntropy() throws -> [Double] {
        guard info.experts > 0 else { return [] }
        let model = try open()
        return try growing(operation: "routing_entropy", initial: info.layers, of: Double.self) { buffer, capacity, count in
            api.routing_entropy(model, buffer, capacity, count)
        }
    }

    func open() throws -> OpaquePointer {
        guard let handle else {
            throw PluginCallError(code: MOE_ERR_INVALID_ARGUMENT.rawValue, operation: "model",
                                  message: "model is closed")
        }
        return handle
    }

    /// Calls `body` with a buffer, growing it once if the plugin asks.
    private func growing<T>(operation: String, initial: Int, of: T.Type,
                            _ body: (UnsafeMutablePointer<T>, Int, UnsafeMutablePointer<Int>) -> Int32) throws -> [T] {
        var capacity = max(initial, 1)
        for _ in 0..<2 {
            let buffer = UnsafeMutablePointer<T>.allocate(capacity: capacity)
            defer { buffer.deallocate() }
            var count = 0
            let status = body(buffer, capacity, &count)
            if status == MOE_ERR_BUFFER_TOO_SMALL.rawValue, count > capacity, count < 1 << 28 {
                capacity = count
                continue
            }
            try plugin.check(status, operation)
            guard count <= capacity else {
                throw PluginCallError(code: MOE_ERR_INTERNAL.rawValue, operation: operation,
                                      message: "plugin reported \(count) items in a buffer of \(capacity)")
            }
            return Array(UnsafeBufferPointer(start: buffer, count: count))
        }
        throw PluginCallError(code: MOE_ERR_BUFFER_TOO_SMALL.rawValue, operation: operation,
                              message: "buffer still too small after growing to \(capacity)")
    }

    private static func convert(_ raw: moe_model_info) -> ModelInfo {
        func token(_ value: Int32) -> Int32? { value >= 0 ? value : nil }
        return ModelInfo(
            architecture: fixedString(raw.architecture), name: fixedString(raw.name),
            vocabularySize: Int(raw.vocab_size), contextLength: Int(raw.context_length),
            layers: Int(raw.layers), experts: Int(raw.experts), expertsUsed: Int(raw.experts_used),
            bosToken: token(raw.bos_token), eosToken: token(raw.eos_token), eotToken: token(raw.eot_token))
    }
}

/// Reads a fixed C char array that may lack its NUL (hostile plugin).
func fixedString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { bytes in
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

import CMoePlugin
import GenerationCore
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A plugin's `generate_text` entry (docs/plugin-abi.md, "Text-level
/// backends"): present when the table reaches it, it is not NULL and the
/// plugin speaks a version of it the host knows.
struct TextGenerationEntry {
    typealias Entry = @convention(c) (OpaquePointer?, UnsafePointer<moe_text_request>?, moe_text_delta_fn?,
                                      moe_cancelled_fn?, UnsafeMutableRawPointer?,
                                      UnsafeMutablePointer<moe_text_result>?) -> Int32
    let call: Entry

    init?(_ api: UnsafePointer<moe_plugin_api>) {
        guard PluginTable.covers(api, \.generate_text),
              api.pointee.text_generation_version == MOE_TEXT_GENERATION_VERSION,
              let call = api.pointee.generate_text else { return nil }
        self.call = call
    }
}

/// What a text-level backend is asked to generate: the host's resolved
/// sampling settings, passed on as they are.
public struct TextRequest: Sendable, Equatable {
    /// Chat turns; empty: `prompt` is sent as a raw completion prompt.
    public var messages: [ChatTurn] = []
    public var prompt = ""
    public var maxTokens = GenerationOptions.defaultMaxTokens
    public var sampling = SamplingParameters()
    public var stops: [String] = []
    public init() {}
}

/// How a text generation ended.
public struct TextResult: Sendable, Equatable {
    public var finishReason: String
    /// nil when the backend gave no usage figures.
    public var promptTokens: Int?
    public var completionTokens: Int
    public init(finishReason: String, promptTokens: Int?, completionTokens: Int) {
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// The closures behind one call's C callbacks.
private final class TextCallbacks {
    let onDelta: (String) -> Bool
    let isCancelled: () -> Bool
    init(onDelta: @escaping (String) -> Bool, isCancelled: @escaping () -> Bool) {
        self.onDelta = onDelta
        self.isCancelled = isCancelled
    }
}

extension PluginModel {
    /// Whether the model is served as text (`generate_text`), not tokens.
    public var generatesText: Bool { plugin.textGeneration != nil }

    /// Runs one text generation to its end on the calling thread (a lane,
    /// never the loop). `onDelta` gets each piece of text and returns true
    /// to stop; `isCancelled` is polled while the backend is silent.
    /// Unlike the other entries, calls may run on several threads at once.
    public func generateText(_ request: TextRequest, onDelta: @escaping (String) -> Bool,
                             isCancelled: @escaping () -> Bool) throws -> TextResult {
        guard let entry = plugin.textGeneration else {
            throw PluginCallError(code: MOE_ERR_UNSUPPORTED.rawValue, operation: "generate_text",
                                  message: "plugin \(plugin.name) has no generate_text")
        }
        let model = try open()
        let box = Unmanaged.passRetained(TextCallbacks(onDelta: onDelta, isCancelled: isCancelled))
        defer { box.release() }
        var strings: [UnsafeMutablePointer<CChar>?] = []
        defer { strings.forEach { free($0) } }
        func keep(_ s: String) -> UnsafeMutablePointer<CChar>? {
            let copy = strdup(s)
            strings.append(copy)
            return copy
        }
        let messages = request.messages.map { moe_chat_message(role: keep($0.role), content: keep($0.content)) }
        let stops: [UnsafePointer<CChar>?] = request.stops.map { UnsafePointer(keep($0)) }
        let prompt = keep(request.prompt)
        var result = moe_text_result()
        let status = messages.withUnsafeBufferPointer { messageList in
            stops.withUnsafeBufferPointer { stopList in
                var raw = moe_text_request()
                raw.struct_size = UInt32(MemoryLayout<moe_text_request>.size)
                raw.messages = messageList.isEmpty ? nil : messageList.baseAddress
                raw.message_count = messageList.count
                raw.prompt = UnsafePointer(prompt)
                raw.max_tokens = UInt32(clamping: request.maxTokens)
                let s = request.sampling
                raw.top_k = Int32(clamping: s.topK)
                raw.temperature = s.temperature
                raw.top_p = s.topP
                raw.min_p = s.minP
                raw.repeat_penalty = s.repetitionPenalty
                raw.seed = s.seed
                raw.stops = stopList.isEmpty ? nil : stopList.baseAddress
                raw.stop_count = stopList.count
                return entry.call(model, &raw, { context, text, length in
                    guard let context else { return 1 }
                    let callbacks = Unmanaged<TextCallbacks>.fromOpaque(context).takeUnretainedValue()
                    let bytes = text.map { UnsafeRawBufferPointer(start: $0, count: length) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    return callbacks.onDelta(String(decoding: bytes, as: UTF8.self)) ? 1 : 0
                }, { context in
                    guard let context else { return 1 }
                    return Unmanaged<TextCallbacks>.fromOpaque(context).takeUnretainedValue().isCancelled() ? 1 : 0
                }, box.toOpaque(), &result)
            }
        }
        try plugin.check(status, "generate_text")
        return TextResult(finishReason: fixedString(result.finish_reason),
                          promptTokens: result.has_usage != 0 ? Int(result.prompt_tokens) : nil,
                          completionTokens: Int(result.completion_tokens))
    }
}

import Inference
import Logging
import MoeAPI
import PluginHost

/// One generate call. The worker lane owns the model-side fields during
/// a step (sequence, positions, sampler); the loop owns the rest and only
/// touches model-side fields between steps.
final class Generation {
    let sink: ResponseSink
    let requestID: UInt64
    let request: GenerateRequest
    let maxTokens: Int
    let enqueuedAt: Double
    var startedAt = 0.0
    var firstTokenAt = 0.0
    var lastTokenAt = 0.0

    // Model side (worker during a step).
    var sampler: Sampler
    var sequence: Int32 = -1
    var promptTokens: [Int32] = []
    var position: Int32 = 0
    var pendingToken: Int32?
    var isPrepared = false
    /// Tokens sampled so far, the stop token included.
    var sampledTokens = 0

    // Loop side.
    var isCancelled = false
    /// Its sequence is on the tier's list to remove (once).
    var isRetired = false
    var completionTokens = 0
    var text = TextStream(stops: [])

    init(sink: ResponseSink, requestID: UInt64, request: GenerateRequest, defaults: SamplingDefaults, now: Double) {
        self.sink = sink
        self.requestID = requestID
        self.request = request
        self.enqueuedAt = now
        let requested = Int(request.maxTokens)
        self.maxTokens = requested > 0 ? requested : defaults.maxTokens
        self.sampler = Sampler(Self.parameters(request.sampling, defaults: defaults))
        self.text = TextStream(stops: request.stop.isEmpty ? defaults.stop : request.stop)
    }

    /// `tier=` and `request=` (connection/call id, unique while moed runs) for its log lines.
    func logMetadata(tier: String) -> Logger.Metadata {
        ["tier": "\(tier)", "request": "\(sink.connectionID)/\(requestID)"]
    }

    static func parameters(_ o: SamplingOverrides, defaults d: SamplingDefaults) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = o.temperature ?? d.temperature
        p.topK = Int(o.topK ?? UInt32(d.topK))
        p.topP = o.topP ?? d.topP
        p.minP = o.minP ?? d.minP
        p.repetitionPenalty = o.repeatPenalty ?? d.repeatPenalty
        p.repetitionWindow = Int(o.repeatLastN ?? UInt32(d.repeatLastN))
        // 0: a fresh seed, so unseeded requests differ; a seed repeats output.
        let seed = o.seed ?? d.seed
        p.seed = seed != 0 ? seed : UInt64.random(in: 1...UInt64.max)
        return p
    }
}

/// Turns the byte pieces of generated tokens into text a client can show:
/// whole UTF-8 characters only, and nothing of a stop string.
struct TextStream {
    private var pendingBytes: [UInt8] = []
    private var filter: StopStringFilter

    init(stops: [String]) {
        filter = StopStringFilter(stops)
    }

    /// Text ready to send, and whether a stop string was reached.
    mutating func feed(_ bytes: [UInt8]) -> (text: String, stopped: Bool) {
        pendingBytes += bytes
        let complete = Self.completePrefixLength(pendingBytes)
        let ready = String(decoding: pendingBytes[..<complete], as: UTF8.self)
        pendingBytes.removeFirst(complete)
        let step = filter.feed(ready)
        return (step.text, step.stopped)
    }

    /// What is still held when generation ends for another reason.
    mutating func finish() -> String {
        let tail = String(decoding: pendingBytes, as: UTF8.self)
        pendingBytes = []
        return filter.feed(tail).text + filter.finish()
    }

    /// Length of the longest prefix that does not end inside a UTF-8
    /// character (a truncated sequence at the end waits for more bytes).
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        var continuation = 0
        while index > 0, continuation < 4 {
            let byte = bytes[index - 1]
            if byte & 0xC0 == 0x80 {
                continuation += 1
                index -= 1
                continue
            }
            let needed = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0
            return needed > continuation ? index - 1 : bytes.count
        }
        return bytes.count  // stray continuation bytes: let decoding repair them
    }
}

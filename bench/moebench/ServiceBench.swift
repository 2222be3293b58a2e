import Foundation
import Inference
import GenerationCore
import MoeAPI
import MoeClient

/// `moebench service`: the daemon's overhead, measured through a running
/// moed on `socket` (bench/run.sh starts one with two tiers):
/// - status round trips on one connection (p50, p99);
/// - generation through the daemon, client-side tokens/s from the first
///   streamed token to the last, against the same generation in-process,
///   in five back-to-back pairs of alternating order (medians);
/// - four concurrent generations through the daemon (four connections)
///   against one, both in tokens/s while every stream decodes (from the
///   last first token to the first last one: no prefill, no early EOS);
/// - switching to the other tier (its file in the page cache): load to ready;
/// - moed's resident memory next to the model file and KV cache.
func serviceFigures(socket: String, tier: String, otherTier: String, model: String,
                    threads: Int, tokens: Int, daemonPID: Int32?) throws -> [String: Any] {
    let client = try MoeClient(socketPath: socket)
    var figures: [String: Any] = [:]

    // Warm both tiers, then unload the other so its switch can be timed.
    _ = try client.call(.load(tier: tier))
    var latencies: [Double] = []
    for _ in 0..<2000 { latencies.append(try seconds { _ = try client.call(.status) }) }
    latencies.sort()
    figures["status_p50_us"] = latencies[latencies.count / 2] * 1e6
    figures["status_p99_us"] = latencies[latencies.count * 99 / 100] * 1e6

    // Through moed against in-process, as `generationPairs` pairs taken
    // back to back in alternating order (one pair of sub-second runs moved
    // by ±10 % with the host: 0.87–1.07 in one bench). The figures are
    // this run's medians; the report takes the median over runs.
    let prompt = "The history of the printing press begins"
    let lm = try LanguageModel(path: model, options: ModelOptions(threads: threads, contextLength: 4096))
    lm.transformer.waitForLayout()
    var daemonRates: [Double] = [], inProcessRates: [Double] = [], evaluateRates: [Double] = [], ratios: [Double] = []
    for pair in 0..<generationPairs {
        var daemon = 0.0, inProcess = (wall: 0.0, evaluate: 0.0)
        if pair % 2 == 0 {
            daemon = try daemonGeneration(client, tier: tier, prompt: prompt, tokens: tokens)
            inProcess = try inProcessGeneration(lm, prompt: prompt, tokens: tokens)
        } else {
            inProcess = try inProcessGeneration(lm, prompt: prompt, tokens: tokens)
            daemon = try daemonGeneration(client, tier: tier, prompt: prompt, tokens: tokens)
        }
        daemonRates.append(daemon)
        inProcessRates.append(inProcess.wall)
        evaluateRates.append(inProcess.evaluate)
        if inProcess.wall > 0 { ratios.append(daemon / inProcess.wall) }
    }
    figures["daemon_tokens_per_second"] = median(daemonRates)
    figures["in_process_tokens_per_second"] = median(inProcessRates)
    figures["in_process_evaluate_tokens_per_second"] = median(evaluateRates)
    if !ratios.isEmpty { figures["daemon_vs_in_process"] = median(ratios) }
    FileHandle.standardError.write(Data("through moed ÷ in-process, pair by pair: \(ratios.map { (($0 * 1000).rounded() / 1000) })\n".utf8))
    let one = try concurrentGenerations(socket: socket, tier: tier, tokens: tokens, streams: 1)
    let four = try concurrentGenerations(socket: socket, tier: tier, tokens: tokens, streams: 4)
    figures["daemon_1_stream_tokens_per_second"] = one
    figures["daemon_4_streams_tokens_per_second"] = four
    if one > 0 { figures["daemon_4_streams_vs_1"] = four / one }

    _ = try? client.call(.unload(tier: otherTier))
    _ = try? client.call(.load(tier: otherTier))  // page the file in
    _ = try? client.call(.unload(tier: otherTier))
    figures["tier_switch_ms"] = try seconds { _ = try client.call(.load(tier: otherTier)) } * 1e3
    _ = try? client.call(.unload(tier: otherTier))

    if let pid = daemonPID, let rss = residentBytes(pid: pid) {
        figures["daemon_rss_bytes"] = rss
        let file = URL(fileURLWithPath: model).resolvingSymlinksInPath().path
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        figures["model_file_bytes"] = size
        // the bound: file + KV cache + 64 MiB (the cache grows with use: finished
        // sequences stay cached for prefix reuse, so the KV the tier holds is subtracted too)
        figures["rss_over_file_mib"] = Double(rss - size) / 1_048_576
        if let reply = try? client.call(.status), case .status(let status) = reply.result,
           let t = status.tiers.first(where: { $0.name == tier }) {
            let kv = Int(t.memory.kvCacheBytes)
            figures["tier_kv_bytes"] = kv
            figures["rss_over_file_and_kv_mib"] = Double(rss - size - kv) / 1_048_576  // the bound: ≤ 64
        }
    }
    return figures
}

/// Greedy generation through moed, timed at the client from the first
/// streamed chunk to the final message, in tokens per second.
private func daemonGeneration(_ client: MoeClient, tier: String, prompt: String, tokens: Int) throws -> Double {
    var request = GenerateRequest()
    request.tier = tier
    request.prompt = prompt
    request.maxTokens = UInt32(tokens)
    request.sampling.temperature = 0
    // The same sampling as the in-process side (greedy, no repeat penalty),
    // not the tier's defaults, so only the service's own cost differs.
    request.sampling.repeatPenalty = 1
    var first: UInt64?
    var streamed = 0
    _ = try client.call(.generate(request)) { partial in
        if case .chunk(let c) = partial.result {
            if first == nil { first = DispatchTime.now().uptimeNanoseconds } else { streamed += c.tokens.count }
        }
    }
    guard let start = first, streamed > 0 else { return 0 }
    return Double(streamed) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// Pairs of (through moed, in-process) generations per service run.
private let generationPairs = 5

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The prompts of the concurrent streams: distinct, so no stream is a
/// cached prefix of another, and each runs greedy SmolLM2-135M to 128
/// tokens without an end token (checked: the finish reasons are printed).
private let concurrentPrompts = [
    "The history of the printing press begins", "The history of the steam engine begins",
    "The history of the telescope begins", "The history of the compass begins",
]

/// `streams` greedy generations at once, one connection each, in tokens/s
/// while all of them decode: every streamed chunk is timestamped, and the
/// figure is the tokens that arrived after the last stream's first token
/// and up to the first stream's last token, over that window. So prefill
/// (the requests' prompts, evaluated one after another before decoding
/// together) and a stream that ends early at EOS count on neither side: the
/// window holds `streams` streams decoding at once, and only that, as the
/// in-process streams figure does. With one stream this is its tokens after
/// the first over the time from the first to the last. The streams' token
/// counts and finish reasons are printed (stderr), and a window of fewer than
/// 8 tokens per stream (a stream ended at once) is refused.
private func concurrentGenerations(socket: String, tier: String, tokens: Int, streams: Int) throws -> Double {
    let clients = try (0..<streams).map { _ in try MoeClient(socketPath: socket) }
    let results = ConcurrentResults(streams)
    // One thread per client: DispatchQueue.concurrentPerform would run only
    // as many at once as there are cores (two here), two streams then two.
    let threads = (0..<streams).map { i in
        Thread {
            var request = GenerateRequest()
            request.tier = tier
            request.prompt = concurrentPrompts[i % concurrentPrompts.count]
            request.maxTokens = UInt32(tokens)
            request.sampling.temperature = 0
            request.sampling.repeatPenalty = 1
            do {
                let final = try clients[i].call(.generate(request)) { partial in
                    if case .chunk(let c) = partial.result, !c.tokens.isEmpty {
                        results.arrived(i, tokens: c.tokens.count, at: DispatchTime.now().uptimeNanoseconds)
                    }
                }
                if case .summary(let summary) = final.result { results.finished(i, reason: summary.finishReason) }
            } catch {
                results.set(i, failure: "\(error)")
            }
            results.done.signal()
        }
    }
    threads.forEach { $0.start() }
    for _ in 0..<streams { results.done.wait() }
    let (arrivals, reasons, failures) = results.snapshot()
    if let failure = failures.compactMap({ $0 }).first { throw BenchError("concurrent generation failed: \(failure)") }
    guard arrivals.allSatisfy({ !$0.isEmpty }) else { throw BenchError("a concurrent stream produced no token") }
    let windowStart = arrivals.map { $0[0].at }.max() ?? 0
    let windowEnd = arrivals.map { $0[$0.count - 1].at }.min() ?? 0
    let inWindow = arrivals.joined().filter { $0.at > windowStart && $0.at <= windowEnd }.reduce(0) { $0 + $1.tokens }
    let counts = arrivals.map { $0.reduce(0) { $0 + $1.tokens } }
    FileHandle.standardError.write(Data(
        "streams \(streams): \(counts) tokens, finish \(reasons), \(inWindow) in the window of \(Double(windowEnd - windowStart) / 1e9) s\n".utf8))
    guard windowEnd > windowStart, inWindow >= 8 * streams else {
        throw BenchError("the \(streams) streams decoded together for only \(inWindow) tokens (counts \(counts), finish \(reasons))")
    }
    return Double(inWindow) / (Double(windowEnd - windowStart) / 1e9)
}

/// The same generation in this process (the `moectl run` path), timed as
/// the daemon's side is: wall clock from the first text to the end, so
/// sampling and detokenizing count on both sides (`evaluate`: the
/// generator's own figure, evaluate calls only, as before 2026-12-06).
private func inProcessGeneration(_ lm: LanguageModel, prompt: String, tokens: Int) throws -> (wall: Double, evaluate: Double) {
    var options = GenerationOptions(maxTokens: tokens)
    options.sampling = .greedy
    var first: UInt64?
    let result = try TextGenerator(model: lm).generate(prompt: lm.tokenize(raw: prompt), options: options) { _ in
        if first == nil { first = DispatchTime.now().uptimeNanoseconds }
        return true
    }
    let end = DispatchTime.now().uptimeNanoseconds
    guard let start = first, result.tokens.count > 1, end > start else { return (0, result.timings.generationTokensPerSecond) }
    return (Double(result.tokens.count - 1) / (Double(end - start) / 1e9), result.timings.generationTokensPerSecond)
}

private func residentBytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first
        return kb.map { $0 * 1024 }
    }
    return nil
}

/// What the client threads of `concurrentGenerations` report: each
/// stream's chunks (tokens, arrival time in ns) and finish reason.
private final class ConcurrentResults: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var arrivals: [[(tokens: Int, at: UInt64)]]
    private var reasons: [String]
    private var failures: [String?]

    init(_ n: Int) {
        arrivals = [[(tokens: Int, at: UInt64)]](repeating: [], count: n)
        reasons = [String](repeating: "", count: n)
        failures = [String?](repeating: nil, count: n)
    }

    func arrived(_ i: Int, tokens: Int, at time: UInt64) { lock.withLock { arrivals[i].append((tokens, time)) } }
    func finished(_ i: Int, reason: String) { lock.withLock { reasons[i] = reason } }
    func set(_ i: Int, failure: String) { lock.withLock { failures[i] = failure } }
    func snapshot() -> ([[(tokens: Int, at: UInt64)]], [String], [String?]) {
        lock.withLock { (arrivals, reasons, failures) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

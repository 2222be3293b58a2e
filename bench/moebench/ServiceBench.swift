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
///   last first token to the first last one: no prefill, no early EOS),
///   and against the same four in-process (ServiceStreams.swift);
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
    // BENCH_SERVICE_STREAMS_ONLY=1: the stream rounds alone, for profiling
    // moed and this process over the same tokens (`perf record -p` on each)
    if ProcessInfo.processInfo.environment["BENCH_SERVICE_STREAMS_ONLY"] == "1" {
        return try streamFigures(socket: socket, tier: tier, lm: lm, tokens: tokens, daemonPID: daemonPID)
    }
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
    figures.merge(try streamFigures(socket: socket, tier: tier, lm: lm, tokens: tokens, daemonPID: daemonPID)) { $1 }

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

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
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

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

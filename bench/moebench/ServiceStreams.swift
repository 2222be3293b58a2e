import Foundation
import Inference
import GenerationCore
import MoeAPI
import MoeClient

/// The four-stream part of `moebench service`: one and four greedy streams
/// through moed, and the same one and four in this process, in
/// `streamRounds` rounds of alternating order (through moed first, then
/// in-process first, …), so both sides meet the machine's same moments.
/// Every rate has one definition on both sides: tokens while all the
/// streams decode, over that time (prefill and the first token excluded).
/// CPU: the daemon's CPU seconds per generated token over a whole
/// concurrent run (its /proc stat: every thread, the loop and socket
/// writes included), against this process's over the same in-process run
/// (prefill included on both sides; the client's own CPU is not counted).
/// The figures are the rounds' medians; ratios are taken round by round.
func streamFigures(socket: String, tier: String, lm: LanguageModel, tokens: Int,
                   daemonPID: Int32?) throws -> [String: Any] {
    var daemon1: [Double] = [], daemon4: [Double] = [], local1: [Double] = [], local4: [Double] = []
    var daemonCPU: [Double] = [], localCPU: [Double] = [], daemonCPURatio: [Double] = [], localCPURatio: [Double] = []
    for round in 0..<streamRounds {
        var d1 = StreamRun(), d4 = StreamRun(), l1 = StreamRun(), l4 = StreamRun()
        let throughDaemon = {
            d1 = try concurrentGenerations(socket: socket, tier: tier, tokens: tokens, streams: 1, daemonPID: daemonPID)
            d4 = try concurrentGenerations(socket: socket, tier: tier, tokens: tokens, streams: 4, daemonPID: daemonPID)
        }
        let inProcess = {
            l1 = try inProcessStreams(lm, streams: 1, tokens: tokens)
            l4 = try inProcessStreams(lm, streams: 4, tokens: tokens)
        }
        if round % 2 == 0 { try throughDaemon(); try inProcess() } else { try inProcess(); try throughDaemon() }
        daemon1.append(d1.rate); daemon4.append(d4.rate); local1.append(l1.rate); local4.append(l4.rate)
        if let c4 = d4.cpuPerToken, let c1 = d1.cpuPerToken {
            daemonCPU.append(c4)
            daemonCPURatio.append(c1 / c4)  // per-token CPU: one stream's over four's
        }
        localCPU.append(l4.cpuPerToken ?? 0)
        localCPURatio.append((l1.cpuPerToken ?? 0) / (l4.cpuPerToken ?? 1))
    }
    let daemonRatio = zip(daemon4, daemon1).map { $0 / $1 }, localRatio = zip(local4, local1).map { $0 / $1 }
    let throughRatio = zip(daemon4, local4).map { $0 / $1 }
    func rounded(_ v: [Double]) -> [Double] { v.map { ($0 * 1000).rounded() / 1000 } }
    FileHandle.standardError.write(Data("""
        four ÷ one through moed, round by round: \(rounded(daemonRatio)); in-process: \(rounded(localRatio))
        four streams through moed ÷ in-process: \(rounded(throughRatio)); CPU ms a token, moed \(rounded(daemonCPU.map { $0 * 1e3 })), \
        in-process \(rounded(localCPU.map { $0 * 1e3 })); four ÷ one by CPU, moed \(rounded(daemonCPURatio)), \
        in-process \(rounded(localCPURatio))\n
        """.utf8))
    var figures: [String: Any] = [
        "daemon_1_stream_tokens_per_second": median(daemon1), "daemon_4_streams_tokens_per_second": median(daemon4),
        "daemon_4_streams_vs_1": median(daemonRatio),
        "in_process_1_stream_tokens_per_second": median(local1), "in_process_4_streams_tokens_per_second": median(local4),
        "in_process_4_streams_vs_1": median(localRatio), "daemon_4_streams_vs_in_process": median(throughRatio),
        "in_process_4_streams_cpu_ms_per_token": median(localCPU) * 1e3,
    ]
    figures["in_process_4_streams_vs_1_cpu"] = median(localCPURatio)
    if !daemonCPU.isEmpty {
        figures["daemon_4_streams_cpu_ms_per_token"] = median(daemonCPU) * 1e3
        figures["daemon_4_streams_vs_1_cpu"] = median(daemonCPURatio)
    }
    return figures
}

/// Rounds of (one and four streams through moed, the same in-process).
private let streamRounds = 3

/// One run of concurrent streams: tokens/s while all decode, and CPU
/// seconds per generated token (nil when the daemon's CPU is unknown).
struct StreamRun {
    var rate = 0.0
    var cpuPerToken: Double?
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
private func concurrentGenerations(socket: String, tier: String, tokens: Int, streams: Int,
                                   daemonPID: Int32?) throws -> StreamRun {
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
    let cpuBefore = daemonPID.flatMap(processCPUSeconds(pid:))
    let sent = DispatchTime.now().uptimeNanoseconds
    threads.forEach { $0.start() }
    for _ in 0..<streams { results.done.wait() }
    let cpuAfter = daemonPID.flatMap(processCPUSeconds(pid:))
    let (arrivals, reasons, failures) = results.snapshot()
    if let failure = failures.compactMap({ $0 }).first { throw BenchError("concurrent generation failed: \(failure)") }
    guard arrivals.allSatisfy({ !$0.isEmpty }) else { throw BenchError("a concurrent stream produced no token") }
    let windowStart = arrivals.map { $0[0].at }.max() ?? 0
    let windowEnd = arrivals.map { $0[$0.count - 1].at }.min() ?? 0
    let inWindow = arrivals.joined().filter { $0.at > windowStart && $0.at <= windowEnd }.reduce(0) { $0 + $1.tokens }
    let counts = arrivals.map { $0.reduce(0) { $0 + $1.tokens } }
    // when each stream's first token came, from the threads' start: how the streams joined the batch
    let firsts = arrivals.map { (Double($0[0].at - sent) / 1e5).rounded() / 10 }
    FileHandle.standardError.write(Data(
        "streams \(streams): \(counts) tokens, finish \(reasons), first tokens at \(firsts) ms, \(inWindow) in the window of \(Double(windowEnd - windowStart) / 1e9) s\n".utf8))
    guard windowEnd > windowStart, inWindow >= 8 * streams else {
        throw BenchError("the \(streams) streams decoded together for only \(inWindow) tokens (counts \(counts), finish \(reasons))")
    }
    var run = StreamRun(rate: Double(inWindow) / (Double(windowEnd - windowStart) / 1e9))
    if let before = cpuBefore, let after = cpuAfter { run.cpuPerToken = (after - before) / Double(counts.reduce(0, +)) }
    return run
}

/// The same streams in this process, as the daemon's lane runs them: each
/// prompt prefilled (tokenized as moed does), then one evaluate a step
/// with a row per stream, greedy, until each has `tokens` tokens (the end
/// token is not looked for: through moed the same prompts run to
/// max_tokens, which the finish reasons printed there show). The rate
/// counts the steps after the first token, all streams decoding (the
/// daemon window's definition); CPU is this process's over the whole run.
private func inProcessStreams(_ lm: LanguageModel, streams: Int, tokens: Int) throws -> StreamRun {
    let t = lm.transformer
    let sequences = (0..<streams).map { Int32(100 + $0) }
    defer { sequences.forEach { t.cache.remove($0) } }
    let cpuStart = processCPUSeconds()
    var next = [Int32](repeating: 0, count: streams)
    for s in 0..<streams {
        let prompt = lm.tokenize(raw: concurrentPrompts[s % concurrentPrompts.count])
        let logits = try t.evaluate(BatchEntry.prompt(prompt, sequence: sequences[s]))
        next[s] = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
    }
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 1..<max(tokens, 2) {
        let batch = (0..<streams).map { s in
            BatchEntry(token: next[s], position: t.cache.length(of: sequences[s]), sequence: sequences[s], wantsLogits: true)
        }
        let logits = try t.evaluate(batch)
        logits.withUnsafeBufferPointer { all in
            for s in 0..<streams {
                next[s] = Sampler.argmax(UnsafeBufferPointer(rebasing: all[s * t.vocabularySize..<(s + 1) * t.vocabularySize]))
            }
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let decoded = streams * (max(tokens, 2) - 1)
    return StreamRun(rate: Double(decoded) / seconds,
                     cpuPerToken: (processCPUSeconds() - cpuStart) / Double(streams * max(tokens, 2)))
}

/// This process's CPU seconds, every thread.
private func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Another process's CPU seconds (user + system, every thread) from
/// /proc/PID/stat, in clock ticks (10 ms: a four-stream run takes seconds).
private func processCPUSeconds(pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    // fields after the command name: state is field 3; utime and stime are 14 and 15
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
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


import Foundation
import Inference
import GenerationCore
import Kernels

// moebench: the engine's side of bench/run.sh. One figure per invocation,
// printed as one JSON object, so the driver can interleave runs with
// llama.cpp's and take medians. Token ids are synthetic and identical to
// the ones bench/llama_bench.py feeds llama.cpp: the cost of a step does not
// depend on which tokens are evaluated.
//
//   moebench decode --model F --threads T [--tokens 128] [--prompt 16] [--cold-experts yes]
//   moebench prompt --model F --threads T --tokens 512
//   moebench streams --model F --threads T --streams 4 [--tokens 64] [--prompt 16]
//   moebench kernels --model F     (single-thread decode kernel speeds)
//   moebench system                (the kernel level this process runs: {"isa": ...})
//
// An MoE's routed experts are repacked on the layout thread after load, as
// in moed (ModelOptions.preparesExperts), and the figure waits for it,
// untimed ("layout_seconds"); with `--cold-experts yes` that thread leaves
// them alone and they are repacked on first pick, inside the figure.
//
// Every result names the kernel level it ran at ("isa"): KernelTable.best,
// the highest level the CPU has, lowered by MOED_KERNEL_ISA.

struct Options {
    var verb = ""
    var model = ""
    var threads = 1
    var tokens = 128
    var prompt = 16
    var streams = 4
    var expertsUsed: Int?
    /// Leave routed experts to be repacked on their first pick (timed) instead of before the figure.
    var coldExperts = false
}

func parse(_ args: [String]) -> Options? {
    var o = Options()
    guard args.count >= 2 else { return nil }
    o.verb = args[1]
    var i = 2
    while i + 1 < args.count {
        let value = args[i + 1]
        switch args[i] {
        case "--model": o.model = value
        case "--threads": o.threads = Int(value) ?? 0
        case "--tokens": o.tokens = Int(value) ?? 0
        case "--prompt": o.prompt = Int(value) ?? 0
        case "--streams": o.streams = Int(value) ?? 0
        case "--experts-used": o.expertsUsed = Int(value)
        case "--cold-experts": o.coldExperts = value == "yes"
        default: return nil
        }
        i += 2
    }
    guard !o.model.isEmpty, o.threads > 0, o.tokens > 0, o.prompt > 0, o.streams > 0 else { return nil }
    return o
}

/// The synthetic prompt both engines evaluate: ids spread over the vocabulary.
func syntheticTokens(_ count: Int, vocabulary: Int) -> [Int32] {
    (0..<count).map { Int32((1000 + $0 * 7919) % min(vocabulary, 32000)) }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// CPU seconds the calling thread spent in `body`: at one thread, the
/// compute a step costs whatever else the machine runs (a shared machine's
/// wall times swing with its load; CPU time does not, but for the caches).
func threadCPUSeconds(_ body: () throws -> Void) rethrows -> Double {
    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
    let start = now()
    try body()
    return now() - start
}

/// This process's resident memory in bytes (/proc/self/statm), 0 if unknown.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func report(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Greedy decoding of `tokens` steps after a short prompt, one token per step.
func decode(_ t: Transformer, _ o: Options) throws -> [String: Any] {
    let prompt = syntheticTokens(o.prompt, vocabulary: t.vocabularySize)
    var logits: [Float] = []
    // untimed in the rate, but reported: an MoE model repacks each expert on its first pick, mostly here
    let promptSeconds = try seconds { logits = try t.evaluate(BatchEntry.prompt(prompt)) }
    var position = prompt.count
    var firstStep = 0.0
    var cpu = 0.0
    let elapsed = try seconds {
        cpu = try threadCPUSeconds {
            for i in 0..<o.tokens {
                let next = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
                let step = try seconds { logits = try t.evaluate([BatchEntry(token: next, position: position, wantsLogits: true)]) }
                if i == 0 { firstStep = step }
                position += 1
            }
        }
    }
    // at one thread, steps per second of the thread's CPU time: what a step
    // costs without the time other processes held the core (a loaded
    // machine's wall clock swings; memory contention still counts)
    return ["tokens": o.tokens, "seconds": elapsed, "tokens_per_second": Double(o.tokens) / elapsed,
            "cpu_tokens_per_second": Double(o.tokens) / max(cpu, 1e-9),
            "prompt_seconds": promptSeconds, "first_step_seconds": firstStep]
}

/// One prompt of `tokens` tokens in one evaluate (split by maxBatch inside).
func prompt(_ t: Transformer, _ o: Options) throws -> [String: Any] {
    let prompt = syntheticTokens(o.tokens, vocabulary: t.vocabularySize)
    _ = try t.evaluate(BatchEntry.prompt(Array(prompt.prefix(8)), sequence: 1))  // warm the pool and pages
    t.cache.remove(1)
    var elapsed = 0.0
    let cpu = try threadCPUSeconds { elapsed = try seconds { _ = try t.evaluate(BatchEntry.prompt(prompt)) } }
    // at one thread, tokens per second of the thread's CPU time (as decode's)
    return ["tokens": o.tokens, "seconds": elapsed, "tokens_per_second": Double(o.tokens) / elapsed,
            "cpu_tokens_per_second": Double(o.tokens) / max(cpu, 1e-9)]
}

/// `streams` sequences decoded together: one evaluate with one entry per
/// sequence per step, so every step passes over the weights once. Step by
/// step, a lone sequence at the same positions is decoded in between and
/// timed apart, so the ratio of the two comes from the same moments of the
/// same process (the decode figure is a separate run, 128 steps long).
func streams(_ t: Transformer, _ o: Options) throws -> [String: Any] {
    let n = o.streams
    let lone = Int32(n)  // the single stream's sequence
    var next = [Int32](repeating: 0, count: n + 1)
    for s in 0...n {
        let prompt = syntheticTokens(o.prompt + (s < n ? s : 0), vocabulary: t.vocabularySize)
        let logits = try t.evaluate(BatchEntry.prompt(prompt, sequence: Int32(s)))
        next[s] = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
    }
    var elapsed = 0.0, single = 0.0, elapsedCPU = 0.0, singleCPU = 0.0
    for _ in 0..<o.tokens {
        var stepSeconds = 0.0
        elapsedCPU += try threadCPUSeconds { stepSeconds = try seconds {
            let batch = (0..<n).map { s in
                BatchEntry(token: next[s], position: t.cache.length(of: Int32(s)), sequence: Int32(s), wantsLogits: true)
            }
            let logits = try t.evaluate(batch)
            logits.withUnsafeBufferPointer { all in
                for s in 0..<n {
                    next[s] = Sampler.argmax(UnsafeBufferPointer(rebasing: all[s * t.vocabularySize..<(s + 1) * t.vocabularySize]))
                }
            }
        } }
        elapsed += stepSeconds
        singleCPU += try threadCPUSeconds { stepSeconds = try seconds {
            let logits = try t.evaluate([BatchEntry(token: next[n], position: t.cache.length(of: lone), sequence: lone,
                                                    wantsLogits: true)])
            next[n] = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
        } }
        single += stepSeconds
    }
    let oneStream = Double(o.tokens) / single
    let total = n * o.tokens
    return ["streams": n, "tokens": total, "seconds": elapsed, "tokens_per_second": Double(total) / elapsed,
            "single_tokens_per_second": oneStream, "vs_single": Double(total) / elapsed / oneStream,
            // at one thread, both rates by the calling thread's CPU time (a change
            // to one-row decode moves the ratio without moving the four streams)
            "cpu_tokens_per_second": Double(total) / max(elapsedCPU, 1e-9),
            "single_cpu_tokens_per_second": Double(o.tokens) / max(singleCPU, 1e-9),
            // the calling thread's CPU time: at one thread, the ratio without the machine's load
            "cpu_vs_single": Double(n) * singleCPU / max(elapsedCPU, 1e-9)]
}

/// The kernel level every product of this process runs at.
let kernelISA = KernelTable.best.isa.description

if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "system" {
    report(["isa": kernelISA, "isa_cap": ProcessInfo.processInfo.environment["MOED_KERNEL_ISA"] ?? ""])
    exit(0)
}
guard let options = parse(CommandLine.arguments) else {
    FileHandle.standardError.write(Data("usage: moebench system | decode|prompt|streams --model FILE --threads N [--tokens N] [--prompt N] [--streams N] [--experts-used K]\n".utf8))
    exit(2)
}
if options.verb == "service" {
    // moebench service --model F --threads T --tokens N, with MOED_SOCKET, MOED_PID, tiers from the env
    let env = ProcessInfo.processInfo.environment
    do {
        var result = try serviceFigures(
            socket: env["MOED_SOCKET"] ?? "", tier: env["BENCH_TIER"] ?? "haiku",
            otherTier: env["BENCH_OTHER_TIER"] ?? "sonnet", model: options.model, threads: options.threads,
            tokens: options.tokens, daemonPID: env["MOED_PID"].flatMap { Int32($0) })
        result["engine"] = "moed"
        result["figure"] = "service"
        result["isa"] = kernelISA
        report(result)
    } catch {
        FileHandle.standardError.write(Data("moebench service: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if options.verb == "kernels" {
    do {
        let names = ["token_embd.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight", "blk.0.attn_q.weight"]
        report(try kernelFigures(model: options.model, tensors: names))
    } catch {
        FileHandle.standardError.write(Data("moebench: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
do {
    let context = max(options.prompt + options.tokens + options.streams + 8, options.tokens + 16)
    var lm: LanguageModel!
    // load time: to ready, repacking the weights (MOED_REPACK) when it runs at load; RSS is read after the layout
    let loadSeconds = try seconds {
        lm = try LanguageModel(path: options.model,
                               options: ModelOptions(threads: options.threads, contextLength: context, maxBatch: 512,
                                                     preparesExperts: !options.coldExperts))
    }
    // a large file's layout, and an MoE's routed experts, are prepared after it is ready
    // (ModelOptions.repackAfterLoadBytes, .preparesExperts): the figures are taken once
    // every matrix is in its final layout
    let layoutSeconds = seconds { lm.transformer.waitForLayout() }
    let loadedRSS = residentBytes()
    if let k = options.expertsUsed { try lm.transformer.setExpertsUsed(k) }
    var result: [String: Any]
    switch options.verb {
    case "decode": result = try decode(lm.transformer, options)
    case "prompt": result = try prompt(lm.transformer, options)
    case "streams": result = try streams(lm.transformer, options)
    default:
        FileHandle.standardError.write(Data("unknown verb \(options.verb)\n".utf8))
        exit(2)
    }
    result["engine"] = "moed"
    result["figure"] = options.verb
    result["threads"] = options.threads
    result["isa"] = kernelISA
    result["load_seconds"] = loadSeconds  // to ready
    result["layout_seconds"] = loadSeconds + layoutSeconds  // to every matrix in its final layout
    result["loaded_rss_bytes"] = loadedRSS
    result["final_rss_bytes"] = residentBytes()
    report(result)
} catch {
    FileHandle.standardError.write(Data("moebench: \(error)\n".utf8))
    exit(1)
}

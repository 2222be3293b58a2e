import Foundation
import ArgumentParser
import Inference
import Kernels

/// The options every offline verb shares: which file, how many threads.
struct ModelOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Context length (default: the model's, capped at 4096 offline).")
    var context: Int?

    @Option(name: .customLong("kv-type"), help: "KV cache type: f16 (default), q8_0 or f32 (exact).")
    var kvType: String = KVCacheType.standard.description

    func load() throws -> LanguageModel {
        let threads = self.threads ?? defaultThreadCount()
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        guard let cacheType = KVCacheType(name: kvType) else {
            throw ValidationError("--kv-type must be f16, q8_0 or f32, not '\(kvType)'")
        }
        let options = ModelOptions(threads: threads, contextLength: context ?? 4096, kvType: cacheType)
        let loaded: LanguageModel
        do {
            loaded = try LanguageModel(path: model, options: options)
        } catch {
            throw CLIError.cannotLoad(model, "\(error)")
        }
        // A large file's interleaved layout is made after the model is ready
        // (the daemon serves from the mapped weights meanwhile); the two
        // layouts' products round apart, so a verb that started before the
        // copies land would give results that depend on when they did
        // (Qwen2.5-Coder-0.5B Q4_K_M, 778 tokens, one thread: perplexity
        // 28.19, 28.18, 28.13 in three runs). Offline verbs are measurements
        // (score, conformance) and reproducible runs, so they wait.
        loaded.transformer.waitForLayout()
        return loaded
    }
}

func defaultThreadCount() -> Int {
    max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// Failures the CLI reports with a message and a documented exit code.
enum CLIError: Error, CustomStringConvertible {
    case cannotLoad(String, String)
    case badInput(String)

    var description: String {
        switch self {
        case .cannotLoad(let path, let why): return "cannot load model '\(path)': \(why)"
        case .badInput(let why): return why
        }
    }
}

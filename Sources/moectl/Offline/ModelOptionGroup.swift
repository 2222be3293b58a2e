import Foundation
import ArgumentParser
import Inference

/// The options every offline verb shares: which file, how many threads.
struct ModelOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Context length (default: the model's, capped at 4096 offline).")
    var context: Int?

    func load() throws -> LanguageModel {
        let threads = self.threads ?? defaultThreadCount()
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        let options = ModelOptions(threads: threads, contextLength: context ?? 4096)
        do {
            return try LanguageModel(path: model, options: options)
        } catch {
            throw CLIError.cannotLoad(model, "\(error)")
        }
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

import ArgumentParser
import Foundation
import Inference

/// `moectl score`: per-token log-probabilities and perplexity of a text, as
/// llama.cpp's perplexity tool computes them over one context.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a text (or token ids) with a model: log-probabilities and perplexity.")

    @OptionGroup var model: ModelOptionGroup

    @Option(name: .long, help: "Read the text from this file.")
    var file: String?

    @Option(name: .long, help: "Score these comma-separated token ids instead of a text.")
    var tokens: String?

    @Option(name: .long, help: "Write every position's logits here as little-endian float32 [tokens × vocabulary].")
    var logitsOut: String?

    @Flag(name: .long, help: "Print tokens, predictions, logprobs and perplexity as JSON.")
    var json = false

    @Argument(help: "The text to score.")
    var text: String?

    func validate() throws {
        let sources = [text != nil, file != nil, tokens != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of TEXT, --file or --tokens") }
    }

    func run() throws {
        let lm = try model.load()
        let ids = try inputTokens(lm)
        let sink = try logitsOut.map { try LogitsFile(path: $0) }
        let result = try lm.score(ids) { _, row in sink?.write(row) }
        try sink?.close()
        if json {
            try printJSON(ScoreOutput(tokens: result.tokens, predictions: result.predictions,
                                      logprobs: result.logprobs, perplexity: result.perplexity))
        } else {
            print("tokens: \(result.tokens.count)  perplexity: \(String(format: "%.4f", result.perplexity))")
        }
    }

    private func inputTokens(_ lm: LanguageModel) throws -> [Int32] {
        if let tokens {
            let ids = tokens.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard !ids.contains(nil) else { throw CLIError.badInput("--tokens must be comma-separated integers") }
            return ids.map { $0! }
        }
        let body: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError.badInput("cannot read '\(file)'")
            }
            body = String(decoding: data, as: UTF8.self)
        } else {
            body = text ?? ""
        }
        return lm.tokenizer.encode(body, addSpecial: true, parseSpecial: true)
    }
}

struct ScoreOutput: Encodable {
    var tokens: [Int32]
    var predictions: [Int32]
    var logprobs: [Double]
    var perplexity: Double
}

/// Raw float32 rows appended to a file.
final class LogitsFile {
    private let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let h = FileHandle(forWritingAtPath: path) else {
            throw CLIError.badInput("cannot write '\(path)'")
        }
        handle = h
    }

    func write(_ row: UnsafeBufferPointer<Float>) {
        // x86-64 is little-endian, so the floats' memory is the file format.
        handle.write(Data(buffer: row))
    }

    func close() throws { try handle.close() }
}

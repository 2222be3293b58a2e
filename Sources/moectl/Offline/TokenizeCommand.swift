import ArgumentParser
import GGUF
import Tokenizer

/// `moectl tokenize --model FILE`: the file's tokenizer alone, whatever the
/// architecture; special-token text is parsed and BOS added as the file asks
/// (llama.cpp's `llama_tokenize(add_special: true, parse_special: true)`).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the tokens a model's tokenizer makes of TEXT.")

    @Option(name: .long, help: "Path to a GGUF file (only its tokenizer is read).")
    var model: String

    @Flag(name: .long, help: "Print {\"tokens\": [...]}.")
    var json = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(file: GGUFFile(path: model)) } catch {
            throw CLIError.cannotLoad(model, "\(error)")
        }
        let tokens = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        if json {
            try printJSON(["tokens": tokens])
        } else {
            for t in tokens {
                let piece = String(decoding: tokenizer.piece(t, special: true), as: UTF8.self)
                print("\(t)\t\(piece.debugDescription)")
            }
        }
    }
}

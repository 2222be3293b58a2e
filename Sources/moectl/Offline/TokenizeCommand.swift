import ArgumentParser
import GGUF
import Tokenizer

/// `moectl tokenize`: with `--model FILE`, the file's tokenizer alone,
/// in-process, whatever the architecture; otherwise a tier's tokenizer
/// through the daemon (`--tier`, else the default tier). Special-token text
/// is parsed and BOS added as the file asks (llama.cpp's
/// `llama_tokenize(add_special: true, parse_special: true)`).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the tokens a model's tokenizer makes of TEXT.")

    @Option(name: .long, help: "Path to a GGUF file (only its tokenizer is read); no daemon needed.")
    var model: String?

    @Option(name: .long, help: "Ask the daemon for this tier's tokenizer (default: the default tier).")
    var tier: String?

    @Option(name: .long, help: "The daemon's socket (default: $MOED_SOCKET, then /run/moed/moed.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print {\"tokens\": [...]}.")
    var json = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func validate() throws {
        if model != nil && (tier != nil || socket != nil) {
            throw ValidationError("--model runs offline; --tier and --socket ask the daemon: give one or the other")
        }
    }

    func run() throws {
        guard let model else {
            return try tokenizeWithDaemon(tier: tier, text: text, socket: socket, json: json)
        }
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

import ArgumentParser
import Foundation
import GenerationCore
import MoeAPI

/// `--json-schema FILE` and `--grammar FILE`, for `run`, `generate` and
/// `chat`: the output must validate against the schema or be a sentence of
/// the GBNF grammar (docs/structured-output.md).
struct StructuredOutputOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON Schema file: the output is JSON that validates against it.")
    var jsonSchema: String?

    @Option(name: .long, help: "A GBNF grammar file (start rule `root`): the output is a sentence of it.")
    var grammar: String?

    func validate() throws {
        if jsonSchema != nil && grammar != nil { throw ValidationError("give --json-schema or --grammar, not both") }
        // Refused here, naming the feature, before any model is loaded or asked.
        do { _ = try structuredOutput?.compile() } catch {
            throw ValidationError("--\(jsonSchema != nil ? "json-schema" : "grammar"): \(error)")
        }
    }

    /// The schema or grammar, read from its file.
    var structuredOutput: StructuredOutput? {
        get throws {
            if let jsonSchema { return .jsonSchema(try Self.read(jsonSchema, "json-schema")) }
            if let grammar { return .grammar(try Self.read(grammar, "grammar")) }
            return nil
        }
    }

    func apply(to request: inout GenerateRequest) throws {
        switch try structuredOutput {
        case .jsonSchema(let text)?: request.jsonSchema = text
        case .grammar(let text)?: request.grammar = text
        case nil: break
        }
    }

    private static func read(_ path: String, _ flag: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--\(flag): cannot read \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("--\(flag): \(path) is not UTF-8 text") }
        return text
    }
}

import ArgumentParser
import Foundation
import GGUF
import Inference
import Tokenizer

/// `moectl inspect FILE`: what a GGUF file holds — architecture, shape,
/// tokenizer, and tensor types and sizes — without loading the model.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a GGUF file: architecture, hyperparameters, tokenizer, tensors.")

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "List every tensor.")
    var tensors = false

    @Argument(help: "Path to a GGUF file.")
    var file: String

    func run() throws {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: file) } catch { throw CLIError.cannotLoad(file, "\(error)") }
        let report = try InspectReport(gguf)
        if json { try printJSON(report) } else { report.printHuman(listTensors: tensors) }
    }
}

struct InspectReport: Encodable {
    struct TensorRow: Encodable { var name: String; var type: String; var shape: [Int]; var bytes: Int }
    struct TypeTotal: Encodable { var type: String; var tensors: Int; var bytes: Int }

    var file_bytes: Int
    var gguf_version: UInt32
    var architecture: String
    var name: String?
    var hyperparameters: [String: Double]
    var tokenizer: [String: String]
    var parameters: Int
    /// MoE files: parameters one token uses (shared weights + k of N experts, + router).
    var active_parameters: Int?
    var tensor_types: [TypeTotal]
    var tensors: [TensorRow]

    init(_ f: GGUFFile) throws {
        file_bytes = f.fileSize
        gguf_version = f.version
        architecture = (try? f.metadata.string("general.architecture")) ?? "unknown"
        name = try? f.metadata.string("general.name")
        hyperparameters = [:]
        if let h = try? Hyperparameters(f.metadata) {
            hyperparameters = [
                "context_length": Double(h.contextLength), "embedding_length": Double(h.embeddingSize),
                "block_count": Double(h.layerCount), "feed_forward_length": Double(h.feedForwardSize),
                "head_count": Double(h.headCount), "head_count_kv": Double(h.kvHeadCount),
                "head_size": Double(h.headSize), "rope_freq_base": Double(h.ropeBase),
                "rms_epsilon": Double(h.rmsEpsilon), "vocab_size": Double(h.vocabularySize),
                "expert_count": Double(h.expertCount), "expert_used_count": Double(h.expertsUsed),
            ]
        }
        tokenizer = [:]
        if let t = try? Tokenizer(file: f) {
            tokenizer["model"] = (try? f.metadata.string("tokenizer.ggml.model")) ?? "?"
            tokenizer["pre"] = (try? f.metadata.string("tokenizer.ggml.pre")) ?? "default"
            tokenizer["tokens"] = String(t.vocabularySize)
            tokenizer["bos"] = t.bos.map { String($0) } ?? "none"
            tokenizer["eos"] = t.eos.map { String($0) } ?? "none"
            tokenizer["adds_bos"] = String(t.addsBOS)
            tokenizer["chat_template"] = (try? ChatTemplate(detecting: t.chatTemplate)).map { "\($0.family)" } ?? "unrecognised or absent"
        }
        tensors = f.tensors.map { TensorRow(name: $0.name, type: $0.type.description, shape: $0.shape, bytes: $0.byteCount) }
        parameters = f.tensors.reduce(0) { $0 + $1.elementCount }
        if let h = try? Hyperparameters(f.metadata), h.isMixtureOfExperts {
            // Routed expert tensors (`*_exps`) count k/N; everything else, router and shared expert included, counts fully.
            let routed = f.tensors.filter { $0.name.contains("_exps.") }.reduce(0) { $0 + $1.elementCount }
            active_parameters = parameters - routed + routed / h.expertCount * h.expertsUsed
        }
        var totals: [String: TypeTotal] = [:]
        for t in f.tensors {
            totals[t.type.description, default: TypeTotal(type: t.type.description, tensors: 0, bytes: 0)].tensors += 1
            totals[t.type.description]!.bytes += t.byteCount
        }
        tensor_types = totals.values.sorted { $0.bytes > $1.bytes }
    }

    func printHuman(listTensors: Bool) {
        print("architecture   \(architecture)\(name.map { "  (\($0))" } ?? "")")
        print("file           \(file_bytes) bytes, GGUF v\(gguf_version), \(tensors.count) tensors, \(parameters) parameters")
        if let active = active_parameters, let n = hyperparameters["expert_count"], let k = hyperparameters["expert_used_count"] {
            print("experts        \(Int(n)) per layer, \(Int(k)) used per token: \(active) active of \(parameters) parameters "
                + String(format: "(%.1f%%)", 100 * Double(active) / Double(max(1, parameters))))
        }
        for key in hyperparameters.keys.sorted() {
            let v = hyperparameters[key]!
            print("  \(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(v == v.rounded() ? String(Int(v)) : String(v))")
        }
        print("tokenizer")
        for key in tokenizer.keys.sorted() { print("  \(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(tokenizer[key]!)") }
        print("tensor types")
        for t in tensor_types { print("  \(t.type.padding(toLength: 8, withPad: " ", startingAt: 0)) \(t.tensors) tensors, \(t.bytes) bytes") }
        if listTensors {
            for t in tensors { print("  \(t.name)  \(t.type)  \(t.shape)  \(t.bytes)") }
        }
    }
}

import ArgumentParser
import Foundation
import GGUF
import Inference
import Kernels
import Tokenizer

/// `moectl inspect FILE`: what a GGUF file holds — architecture, shape,
/// tokenizer, and tensor types and sizes — without loading the model.
/// `moectl inspect --system`: the CPU features and kernel level (SystemReport).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a GGUF file: architecture, hyperparameters, tokenizer, tensors; or, with --system, this machine's kernel level.")

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "List every tensor.")
    var tensors = false

    @Flag(name: .long, help: "Describe this machine: the CPU features the kernels use, the level chosen, MOED_KERNEL_ISA.")
    var system = false

    @Argument(help: "Path to a GGUF file.")
    var file: String?

    func validate() throws {
        if file == nil && !system { throw ValidationError("give a GGUF file, or --system") }
        if system && json && file != nil { throw ValidationError("--system --json prints one object: give no file with it") }
    }

    func run() throws {
        if system {
            let report = SystemReport()
            if json { try printJSON(report) } else { report.printHuman() }
        }
        guard let file else { return }
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: file) } catch {
            // Parse errors quote keys and values from the file.
            throw CLIError.cannotLoad(TerminalText.escaped(file), TerminalText.escaped("\(error)"))
        }
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
    var support: InspectSupport

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
            tokenizer["chat_template"] = t.chatTemplate == nil ? "absent" : "present (\(t.chatTemplate?.utf8.count ?? 0) bytes)"
        }
        tensors = f.tensors.map { TensorRow(name: $0.name, type: $0.type.description, shape: $0.shape, bytes: $0.byteCount) }
        // Sums saturate: a file may list many tensors over the same bytes.
        parameters = Self.saturatingSum(f.tensors.map(\.elementCount))
        if let h = try? Hyperparameters(f.metadata), h.isMixtureOfExperts {
            // Routed expert tensors (`*_exps`) count k/N; everything else, router and shared expert included, counts fully.
            // Hyperparameters checked 0 < k <= N, and routed <= parameters, so nothing here overflows.
            let routed = Self.saturatingSum(f.tensors.filter { $0.name.contains("_exps.") }.map(\.elementCount))
            active_parameters = parameters - routed + routed / h.expertCount * h.expertsUsed
        }
        var totals: [String: TypeTotal] = [:]
        for t in f.tensors {
            var total = totals[t.type.description] ?? TypeTotal(type: t.type.description, tensors: 0, bytes: 0)
            total.tensors += 1
            total.bytes = Self.saturatingSum([total.bytes, t.byteCount])
            totals[t.type.description] = total
        }
        tensor_types = totals.values.sorted { $0.bytes > $1.bytes }
        support = InspectSupport(f)
    }

    static func saturatingSum(_ values: [Int]) -> Int {
        values.reduce(0) { sum, value in
            let (total, overflow) = sum.addingReportingOverflow(value)
            return overflow ? .max : total
        }
    }

    /// A whole number without a fraction when it fits an Int, else as Swift
    /// writes doubles ("1e+20", "inf"); never a trapping conversion.
    static func number(_ value: Double) -> String {
        Int(exactly: value).map(String.init) ?? String(value)
    }

    /// Text from the file goes through `TerminalText.escaped`: metadata
    /// strings and tensor names are the file author's, not ours.
    func printHuman(listTensors: Bool) {
        let safe = TerminalText.escaped
        support.printHuman()
        print("architecture   \(safe(architecture))\(name.map { "  (\(safe($0)))" } ?? "")")
        print("file           \(file_bytes) bytes, GGUF v\(gguf_version), \(tensors.count) tensors, \(parameters) parameters")
        if let active = active_parameters, let n = hyperparameters["expert_count"], let k = hyperparameters["expert_used_count"] {
            print("experts        \(Self.number(n)) per layer, \(Self.number(k)) used per token: \(active) active of \(parameters) parameters "
                + String(format: "(%.1f%%)", 100 * Double(active) / Double(max(1, parameters))))
        }
        for (key, value) in hyperparameters.sorted(by: { $0.key < $1.key }) {
            print("  \(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(Self.number(value))")
        }
        print("tokenizer")
        for (key, value) in tokenizer.sorted(by: { $0.key < $1.key }) {
            print("  \(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(safe(value))")
        }
        print("tensor types")
        for t in tensor_types { print("  \(t.type.padding(toLength: 8, withPad: " ", startingAt: 0)) \(t.tensors) tensors, \(t.bytes) bytes") }
        if listTensors {
            for t in tensors { print("  \(safe(t.name))  \(t.type)  \(t.shape)  \(t.bytes)") }
        }
    }
}

import ArgumentParser
import Foundation
import Upcycle

/// `moectl upcycle`: make a Mixtral-layout MoE GGUF from a dense Llama-family
/// GGUF by sparse upcycling (how the default `sonnet` and `opus` tiers are made).
struct UpcycleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upcycle",
        abstract: "Turn a dense llama GGUF into a Mixtral-layout MoE GGUF (sparse upcycling).",
        discussion: """
            Each block's feed-forward network is copied into N experts, perturbed by seeded
            Gaussian noise (relative to each matrix's RMS), and a seeded router is added.
            With --noise 0 the MoE computes exactly what the dense model does. llama.cpp
            loads the result as a Mixtral model.
            """)

    @Option(name: .long, help: "The dense GGUF to read.")
    var model: String

    @Option(name: .long, help: "Where to write the MoE GGUF (written atomically).")
    var out: String

    @Option(name: .long, help: "Experts per layer (N).")
    var experts: Int

    @Option(name: .long, help: "Experts each token is routed to (k).")
    var expertsUsed: Int

    @Option(name: .long, help: "Noise added to each expert copy, as a fraction of the matrix's RMS.")
    var noise: Float = 0

    @Option(name: .long, help: "Seed for the noise and the router.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Expert tensor type: f32, f16, q8_0, or same (the dense FFN's own type).")
    var expertType: String = "same"

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        guard let type = UpcycleOptions.ExpertType(rawValue: expertType) else {
            throw ValidationError("--expert-type must be one of "
                + UpcycleOptions.ExpertType.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let options = UpcycleOptions(experts: experts, expertsUsed: expertsUsed, noise: noise, seed: seed,
                                     expertType: type)
        let start = Date()
        let summary: UpcycleSummary
        do {
            summary = try Upcycler.upcycle(inputPath: model, outputPath: out, options: options)
        } catch let error as UpcycleError {
            throw CLIError.badInput("cannot upcycle '\(model)': \(error)")
        } catch {
            throw CLIError.cannotLoad(model, "\(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        if json {
            try printJSON(UpcycleOutput(path: out, summary: summary, seconds: seconds))
        } else {
            print("wrote \(out): \(summary.layers) layers × \(summary.experts) experts (top-\(summary.expertsUsed)), "
                + "experts \(summary.expertType), \(summary.tensors) tensors, \(summary.fileBytes) bytes "
                + "in \(String(format: "%.1f", seconds)) s")
        }
    }
}

struct UpcycleOutput: Encodable {
    var path: String
    var layers: Int
    var experts: Int
    var experts_used: Int
    var expert_type: String
    var tensors: Int
    var file_bytes: Int
    var seconds: Double

    init(path: String, summary s: UpcycleSummary, seconds: Double) {
        self.path = path
        layers = s.layers
        experts = s.experts
        experts_used = s.expertsUsed
        expert_type = s.expertType
        tensors = s.tensors
        file_bytes = s.fileBytes
        self.seconds = seconds
    }
}

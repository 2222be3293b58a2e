import Foundation
import GGUF

/// Sparse upcycling (Komatsuzaki et al., 2022): turns a dense Llama-family
/// GGUF into a Mixtral-layout MoE GGUF. Every block's SwiGLU is copied into
/// N experts (optionally perturbed by seeded noise) stored as stacked
/// `ffn_{gate,up,down}_exps` tensors, and a seeded router `ffn_gate_inp` is
/// added. The file stays `llama` architecture with `expert_count` and
/// `expert_used_count`, which is how llama.cpp reads Mixtral.
///
/// With noise 0 every expert equals the dense FFN and the renormalised
/// top-k weights sum to one, so the MoE computes exactly the dense model.
///
/// Tensor data streams from the memory-mapped input to the output as it is
/// written: one dense matrix at a time is ever held in memory.
public enum Upcycler {
    /// The output file as a writer ready to `write(toFile:)`; it keeps
    /// `input` mapped and reads from it while writing.
    public static func makeWriter(from input: GGUFFile, options: UpcycleOptions) throws -> GGUFWriter {
        try options.validate()
        let arch = try architecture(of: input)
        let d = try input.metadata.int("\(arch).embedding_length")
        var w = try GGUFWriter(alignment: input.alignment)
        for (key, value) in input.metadata where !key.hasPrefix("\(arch).expert_") {
            try w.set(key, value)
        }
        try w.set("\(arch).expert_count", .uint32(UInt32(options.experts)))
        try w.set("\(arch).expert_used_count", .uint32(UInt32(options.expertsUsed)))
        // Provenance, so a file says how it was made and can be made again.
        try w.set("moed.upcycle.noise", .float32(options.noise))
        try w.set("moed.upcycle.seed", .uint64(options.seed))
        try w.set("moed.upcycle.expert_type", .string(options.expertType.rawValue))

        var upcycled = Set<Int>()
        for t in input.tensors {
            guard let (layer, kind) = denseFeedForward(t.name) else {
                let bytes = input.data(of: t)
                // The closure keeps the mapped input alive until the bytes are written.
                try w.addTensor(name: t.name, shape: t.shape, type: t.type) { emit in
                    try withExtendedLifetime(input) { try emit(bytes) }
                }
                continue
            }
            if kind == "gate" {
                try addRouter(to: &w, layer: layer, width: d, options: options)
                upcycled.insert(layer)
            }
            try addExperts(to: &w, from: t, of: input, layer: layer, kind: kind, options: options)
        }
        let layers = try input.metadata.int("\(arch).block_count")
        guard upcycled.count == layers else {
            throw UpcycleError("found ffn_gate.weight in \(upcycled.count) of \(layers) blocks; every block needs a dense SwiGLU")
        }
        return w
    }

    /// Reads `inputPath`, writes the MoE file at `outputPath` (atomically).
    @discardableResult
    public static func upcycle(inputPath: String, outputPath: String, options: UpcycleOptions) throws -> UpcycleSummary {
        let input = try GGUFFile(path: inputPath)
        let writer = try makeWriter(from: input, options: options)
        try writer.write(toFile: outputPath)
        let output = try GGUFFile(path: outputPath)
        let expertType = output.tensors.first { $0.name.hasSuffix("ffn_gate_exps.weight") }?.type.description ?? "?"
        return UpcycleSummary(layers: try input.metadata.int("llama.block_count"), experts: options.experts,
                              expertsUsed: options.expertsUsed, expertType: expertType,
                              tensors: output.tensors.count, fileBytes: output.fileSize)
    }

    /// Only dense `llama` files: the Mixtral layout is `llama` with experts.
    private static func architecture(of input: GGUFFile) throws -> String {
        let arch = try input.metadata.string("general.architecture")
        guard arch == "llama" else {
            throw UpcycleError("general.architecture is '\(arch)'; upcycling writes the Mixtral layout and needs a dense 'llama' file")
        }
        if let n = try input.metadata.intIfPresent("llama.expert_count"), n > 0 {
            throw UpcycleError("llama.expert_count is \(n): the input already has experts")
        }
        return arch
    }

    /// (layer, "gate" | "up" | "down") for `blk.N.ffn_{gate,up,down}.weight`.
    static func denseFeedForward(_ name: String) -> (Int, String)? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), parts[3] == "weight" else { return nil }
        switch parts[2] {
        case "ffn_gate": return (layer, "gate")
        case "ffn_up": return (layer, "up")
        case "ffn_down": return (layer, "down")
        default: return nil
        }
    }

    /// `ffn_{kind}_exps` [in, out, N]: N copies of the dense [in, out] matrix.
    private static func addExperts(to w: inout GGUFWriter, from t: GGUFTensorInfo, of input: GGUFFile,
                                   layer: Int, kind: String, options: UpcycleOptions) throws {
        guard t.shape.count == 2 else {
            throw UpcycleError("tensor '\(t.name)' has shape \(t.shape); a dense FFN matrix is 2-D")
        }
        let encoder = try ExpertEncoder(source: t, bytes: input.data(of: t), options: options)
        let stream = UInt64(layer) * 3 + (kind == "gate" ? 0 : kind == "up" ? 1 : 2)
        try w.addTensor(name: "blk.\(layer).ffn_\(kind)_exps.weight", shape: t.shape + [options.experts],
                        type: encoder.outputType) { emit in
            try withExtendedLifetime(input) {
                for e in 0..<options.experts { try encoder.encode(expert: e, stream: stream, emit: emit) }
            }
        }
    }

    /// The router `ffn_gate_inp` [embedding, N] in F32: seeded N(0, 1/embedding)
    /// entries, so router logits are of the order of the normed activations.
    private static func addRouter(to w: inout GGUFWriter, layer: Int, width d: Int, options: UpcycleOptions) throws {
        var random = NormalRandom(seed: options.seed, stream: 0xA11CE &+ UInt64(layer))
        let scale = 1 / Double(d).squareRoot()
        let values = (0..<(d * options.experts)).map { _ in Float(random.next() * scale) }
        try w.addTensor(name: "blk.\(layer).ffn_gate_inp.weight", shape: [d, options.experts], floats: values)
    }
}

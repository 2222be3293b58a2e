import Foundation
import GGUF
import Inference
import Service
import TestSupport
import Tokenizer

/// What one case did: the input was refused with an error (the wanted
/// answer for most mutated inputs), or taken whole. A crash or a hang never
/// comes back here; the supervisor sees it.
public enum FuzzOutcome: Equatable {
    case accepted
    case refused(String)
}

/// One in-process surface: its seed inputs, its own mutations, and how an
/// input is run.
public protocol FuzzSurface {
    static var name: String { get }
    /// Runs one input the way the product would read it.
    static func run(_ bytes: [UInt8]) -> FuzzOutcome
    /// Text-aware mutations added to the generic ones (nil: none).
    static var extraMutation: ((inout [UInt8], inout FuzzRandom) -> Void)? { get }
}

/// A GGUF file, opened and loaded as the dense and MoE engine plugins do
/// (Plugins/Engine: hyperparameters, tokenizer, transformer at a tier's
/// context), then one token evaluated and the tokenizer used once.
public enum GGUFSurface: FuzzSurface {
    public static let name = "gguf"
    public static let extraMutation: ((inout [UInt8], inout FuzzRandom) -> Void)? = nil

    public static func run(_ bytes: [UInt8]) -> FuzzOutcome {
        do {
            let file = try GGUFFile(bytes: bytes)
            _ = try Hyperparameters(file.metadata)
            let tokenizer = try Tokenizer(file: file)
            let transformer = try Transformer(file: file, options: ModelOptions(threads: 1, contextLength: 64, maxBatch: 8))
            guard tokenizer.vocabularySize <= transformer.vocabularySize else { return .refused("vocabulary larger than logits") }
            let tokens = tokenizer.encode("Hello, world! <|im_start|>", addSpecial: true, parseSpecial: true)
            _ = tokens.map { tokenizer.piece($0) }
            let first = tokens.first.map { min(max($0, 0), Int32(transformer.vocabularySize - 1)) } ?? 0
            _ = try transformer.evaluate([BatchEntry(token: first, position: 0, wantsLogits: true)])
            _ = try? ChatTemplate(detecting: tokenizer.chatTemplate)
            return .accepted
        } catch {
            return .refused("\(error)")
        }
    }

    /// Small models made in code, one per architecture family and weight
    /// type the engine reads, plus, when a real model is given, its header,
    /// metadata and tensor table with no tensor data.
    public static func seeds(realModel: String?) throws -> [FuzzSeed] {
        var models: [(String, SyntheticModel)] = []
        var dense = SyntheticModel()
        dense.embedding = 32; dense.feedForward = 64; dense.layers = 1; dense.contextLength = 64
        models.append(("llama-f32", dense))
        for type in [GGMLType.f16, .q8_0, .q4_1] {
            var m = dense; m.weightType = type; m.separateOutput = false
            models.append(("llama-\(type)", m))
        }
        for (name, factory) in [("mixtral", SyntheticModel.mixtral), ("olmoe", SyntheticModel.olmoe),
                                ("qwen2moe", SyntheticModel.qwen2MoE), ("qwen3moe", SyntheticModel.qwen3MoE)] {
            var m = factory(4, 2)
            m.embedding = 32; m.layers = 1; m.contextLength = 64
            models.append((name, m))
        }
        var seeds = try models.map { FuzzSeed(name: $0.0, bytes: try $0.1.makeWriter().serialized()) }
        if let realModel, let header = try realHeader(realModel) {
            seeds.append(FuzzSeed(name: "real-header", bytes: header))
            // The same with a tensor count of 0: a whole file, so the real
            // vocabulary and merges reach the tokenizer (its tensor table
            // is then read as data).
            var metadataOnly = header
            metadataOnly.replaceSubrange(8..<16, with: [UInt8](repeating: 0, count: 8))
            seeds.append(FuzzSeed(name: "real-metadata", bytes: metadataOnly))
        }
        return seeds
    }

    /// The bytes before the tensor data of the file at `path`.
    static func realHeader(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file = try GGUFFile(path: path)
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try handle.read(upToCount: file.dataOffset).map { Array($0) }
    }
}

/// A config file's text, parsed and validated as `moed` does on start and
/// on every reload (Sources/Service/Config).
public enum ConfigSurface: FuzzSurface {
    public static let name = "config"

    public static func run(_ bytes: [UInt8]) -> FuzzOutcome {
        // Configuration.load refuses text that is not UTF-8; repaired text
        // still reaches the parser so the mutations are not wasted.
        let source = String(validating: bytes, as: UTF8.self) ?? String(decoding: bytes, as: UTF8.self)
        do {
            let config = try Configuration.parse(source, path: "fuzz.toml")
            _ = "\(config)"
            return .accepted
        } catch {
            return .refused("\(error)")
        }
    }

    /// Values at the edges of what each key type takes.
    static let hostileValues = [
        "0", "-1", "1e300", "-1e300", "inf", "-inf", "nan", "\"inf\"", "\"nan\"", "\"1e300s\"", "\"-5m\"",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
        "0x7fffffffffffffff", "0o777777", "\"20000000000000000\"", "\"0\"", "\"99999999999GiB\"", "\"\"",
        "\"\\u0000\"", "\"a\\u0000b\"", "[]", "[[]]", "[\"\"]", "true", "\"forever\"", "1_", "_1", "0.", ".5",
        "\"\\uD800\"", "\"\\U0010FFFF\"", "\"\\", "'", "\"\u{FEFF}\"", "4294967296", "65536", "\"0777\"", "\"07777777\"",
    ]

    /// Text-aware mutations: a value replaced by an edge value, a line
    /// duplicated or moved, a structural character inserted.
    public static let extraMutation: ((inout [UInt8], inout FuzzRandom) -> Void)? = { bytes, random in
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        guard !lines.isEmpty else { return }
        let index = random.below(lines.count)
        switch random.below(4) {
        case 0:
            if let equals = lines[index].firstIndex(of: UInt8(ascii: "=")) {
                lines[index] = Array(lines[index][...equals]) + Array(" \(random.pick(hostileValues))".utf8)
            }
        case 1: lines.insert(lines[index], at: random.below(lines.count + 1))
        case 2: lines.swapAt(index, random.below(lines.count))
        default:
            let inserted = random.pick(["[", "]", "\"", "'", "=", "#", "\\", ".", "\r", "\t", "\u{0}", "[tiers.x]", "[daemon]"])
            let at = random.below(lines[index].count + 1)
            lines[index].insert(contentsOf: Array(inserted.utf8), at: at)
        }
        bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    }

    /// Every `.toml` file in `directory`.
    public static func seeds(directory: String) throws -> [FuzzSeed] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }.sorted()
        return try names.map { name in
            FuzzSeed(name: name, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
        }
    }
}

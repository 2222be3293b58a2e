import GGUF
import Inference
import Kernels
import Tokenizer

/// Whether moed can run a file, and if not what is missing. Each answer comes
/// from the code that owns it: `Architecture.named` for families, the kernel
/// table for tensor types, `Tokenizer(file:)` for the vocabulary and
/// pre-tokenizer, `PromptRenderer` for the chat template.
struct InspectSupport: Encodable {
    var runnable: Bool
    /// One line per missing piece: "architecture 'gemma3'", "tensor type IQ2_XXS (…)", …
    var missing: [String]
    /// Which renderer chat requests get, or why there is none.
    var chat_renderer: String

    init(_ f: GGUFFile) {
        var missing: [String] = []
        let architecture = (try? f.metadata.string("general.architecture")) ?? "(none)"
        if Architecture.named(architecture) == nil {
            missing.append("architecture '\(architecture)' (moed runs: \(Architecture.supportedNames.joined(separator: ", ")))")
        }
        missing += Self.missingTensorTypes(f)
        do {
            let tokenizer = try Tokenizer(file: f)
            do {
                chat_renderer = try tokenizer.promptRenderer().summary
            } catch {
                chat_renderer = "none: \(error) (raw completions still work)"
                if tokenizer.chatTemplate != nil { missing.append("chat template: \(error)") }
            }
        } catch {
            missing.append("tokenizer: \(error)")
            chat_renderer = "none (no tokenizer)"
        }
        self.missing = missing
        // A refused chat template still leaves raw completion: the file runs.
        runnable = missing.allSatisfy { $0.hasPrefix("chat template") }
    }

    /// Weight matrices need a dot-product kernel, vectors a dequantizer.
    private static func missingTensorTypes(_ f: GGUFFile) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        for t in f.tensors {
            let kernel = KernelTable.scalar[t.type]
            let isMatrix = t.shape.filter { $0 > 1 }.count >= 2
            let ok = isMatrix ? (kernel?.canMultiply ?? false) : kernel != nil
            let key = t.type.description
            if !ok && seen.insert(key).inserted {
                out.append("tensor type \(key) (first in '\(t.name)'; \(isMatrix ? "no matrix kernel" : "no dequantizer"))")
            }
        }
        return out
    }

    func printHuman() {
        let safe = TerminalText.escaped
        if missing.isEmpty {
            print("runnable       yes")
        } else if runnable {
            print("runnable       yes, raw completions only")
        } else {
            print("runnable       no")
        }
        for m in missing { print("  missing      \(safe(m))") }
        print("chat renderer  \(safe(chat_renderer))")
    }
}

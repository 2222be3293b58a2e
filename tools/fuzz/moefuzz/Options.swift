import Foundation

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// moefuzz's flags (one flat set; each mode reads the ones it needs).
struct Options {
    var mode = ""
    var surface = ""
    var seed: UInt64 = 1
    var cases: UInt64 = 10_000
    var from: UInt64 = 0
    var to: UInt64 = 0
    var batch: UInt64 = 20_000
    var timeoutMilliseconds = 5_000
    var out = "out/fuzz"
    var corpus = "tools/fuzz/corpus"
    var model: String?
    var progress: String?
    var caseNumber: UInt64 = 0
    var files: [String] = []

    static let usage = """
        usage: moefuzz run    --surface gguf|config [--cases N] [--seed S] [--out DIR] [--batch B]
                              [--timeout-ms T] [--model GGUF] [--corpus DIR]
               moefuzz input  --surface gguf|config --seed S --case N --out FILE   (one case's input)
               moefuzz replay --surface gguf|config FILE...                        (run saved inputs)
        """

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        guard let mode = rest.popFirst() else { throw UsageError(Self.usage) }
        self.mode = mode
        while let flag = rest.popFirst() {
            guard flag.hasPrefix("--") else { files.append(flag); continue }
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            func number() throws -> UInt64 {
                guard let n = UInt64(value.replacingOccurrences(of: "_", with: "")) else {
                    throw UsageError("\(flag): '\(value)' is not a whole number")
                }
                return n
            }
            switch flag {
            case "--surface": surface = value
            case "--seed": seed = try number()
            case "--cases": cases = try number()
            case "--from": from = try number()
            case "--to": to = try number()
            case "--batch": batch = max(1, try number())
            case "--timeout-ms": timeoutMilliseconds = Int(clamping: try number())
            case "--out": out = value
            case "--corpus": corpus = value
            case "--model": model = value
            case "--progress": progress = value
            case "--case": caseNumber = try number()
            default: throw UsageError("unknown flag \(flag)\n\(Self.usage)")
            }
        }
    }

    /// The flags a worker needs to make the same inputs as its supervisor.
    var inputFlags: [String] {
        var flags = ["--surface", surface, "--seed", "\(seed)", "--corpus", corpus]
        if let model { flags += ["--model", model] }
        return flags
    }
}

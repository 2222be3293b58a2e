import ArgumentParser
import Foundation
import GGUF
import Kernels

/// `moectl dequantize`: one tensor as little-endian float32, through the
/// engine's own kernels — the exact-dequantization conformance check reads it.
struct DequantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequantize",
        abstract: "Write one tensor of a GGUF file, dequantized, as raw float32.")

    @Option(name: .long, help: "Path to a GGUF file.")
    var model: String

    @Option(name: .long, help: "Tensor name.")
    var tensor: String

    @Option(name: .long, help: "Output file.")
    var out: String

    @Option(name: .long, help: "Kernel level: scalar, avx2, avx512 or avx512vnni (default: the best this CPU has).")
    var isa: String?

    func run() throws {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: model) } catch { throw CLIError.cannotLoad(model, "\(error)") }
        guard let info = gguf.tensor(named: tensor) else { throw CLIError.badInput("no tensor '\(tensor)' in \(model)") }
        let table = try kernelTable()
        guard let kernel = table[info.type] else {
            throw CLIError.badInput("tensor '\(tensor)' has type \(info.type), which has no kernels")
        }
        var values = [Float](repeating: 0, count: info.elementCount)
        values.withUnsafeMutableBufferPointer {
            kernel.dequantize(gguf.data(of: info).baseAddress!, into: $0.baseAddress!, count: info.elementCount)
        }
        guard FileManager.default.createFile(atPath: out, contents: values.withUnsafeBufferPointer { Data(buffer: $0) }) else {
            throw CLIError.badInput("cannot write '\(out)'")
        }
    }

    private func kernelTable() throws -> KernelTable {
        guard let isa else { return .best }
        guard let level = KernelISA.allCases.first(where: { "\($0)" == isa }) else {
            throw ValidationError("--isa must be one of \(KernelISA.allCases.map { "\($0)" }.joined(separator: ", "))")
        }
        guard let table = KernelTable(isa: level) else { throw CLIError.badInput("this CPU cannot run \(isa) kernels") }
        return table
    }
}

import Foundation
import GGUF
import Kernels

/// `moebench kernels`: best-of-N single-thread timings of the decode
/// kernels on a real model's largest matrices (one row at a time versus
/// four weight rows at a time), in GB/s of weights. Best-of is robust to
/// other processes sharing the machine.
func kernelFigures(model path: String, tensors: [String], repeats: Int = 30) throws -> [String: Any] {
    let file = try GGUFFile(path: path)
    var figures: [String: Any] = [:]
    for name in tensors {
        guard let info = file.tensors.first(where: { $0.name == name }) else { continue }
        let kernel = try KernelTable.best.matrixKernel(for: info.type)
        let n = info.rowLength, rows = info.rowCount
        guard let rowBytes = kernel.rowBytes(count: n), let actBytes = kernel.activationRowBytes(count: n) else { continue }
        let weights = file.data(of: info).baseAddress!
        let x = (0..<n).map { Float(sin(Double($0))) }
        let act = UnsafeMutableRawPointer.allocate(byteCount: actBytes, alignment: 64)
        defer { act.deallocate() }
        kernel.quantizeActivations(x, into: act, count: n)
        var out = [Float](repeating: 0, count: rows + 4)
        func best(_ body: () -> Void) -> Double {
            var b = Double.infinity
            for _ in 0..<repeats { b = min(b, seconds(body)) }
            return b
        }
        let single = best {
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows { o[r] = kernel.dot(weights + r * rowBytes, act, count: n) }
            }
        }
        let four = best {
            out.withUnsafeMutableBufferPointer { o in
                var r = 0
                while r + 4 <= rows {
                    kernel.dot4(weights: weights + r * rowBytes, weightStride: rowBytes, act, into: o.baseAddress! + r, count: n)
                    r += 4
                }
            }
        }
        let bytes = Double(rows * rowBytes)
        figures[name] = ["type": "\(info.type)", "rows": rows, "columns": n,
                         "single_row_gbps": bytes / single / 1e9, "four_rows_gbps": bytes / four / 1e9]
    }
    return figures
}

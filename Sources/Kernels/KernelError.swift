import GGUF

/// Why a kernel call was refused: the type has no kernels here, or a shape
/// does not fit the type's blocks. Raised before any memory is touched.
public struct KernelError: Error, CustomStringConvertible, Equatable {
    enum Kind: Equatable {
        case unsupportedType(GGMLType)
        case notBlockMultiple(GGMLType, length: Int)
        case badShape(String)
    }

    let kind: Kind

    static func unsupportedType(_ type: GGMLType) -> KernelError { KernelError(kind: .unsupportedType(type)) }
    static func notBlockMultiple(_ type: GGMLType, length: Int) -> KernelError {
        KernelError(kind: .notBlockMultiple(type, length: length))
    }
    static func badShape(_ what: String) -> KernelError { KernelError(kind: .badShape(what)) }

    public var description: String {
        switch kind {
        case .unsupportedType(let type):
            return "no matrix kernels for tensor type \(type)"
        case .notBlockMultiple(let type, let length):
            return "row length \(length) is not a multiple of \(type)'s block size \(type.blockSize)"
        case .badShape(let what):
            return "bad matrix shape: \(what)"
        }
    }
}

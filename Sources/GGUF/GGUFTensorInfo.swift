/// Where one tensor lives in a GGUF file and what it holds. Built only from
/// checked values: the shape is 1–4 positive dimensions whose product fits,
/// rows are whole blocks of `type`, and the data lies inside the file.
public struct GGUFTensorInfo: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Dimensions in ggml order: `shape[0]` (ne0) is the row length, the
    /// fastest-varying index. A PyTorch `[out, in]` matrix is `[in, out]` here.
    public let shape: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    public let byteCount: Int
    public let elementCount: Int

    /// Elements per row (ne0).
    public var rowLength: Int { shape[0] }
    /// Number of rows: the product of all dimensions but the first.
    public var rowCount: Int { elementCount / shape[0] }
    /// Bytes per row, a whole number of blocks.
    public var rowByteCount: Int { byteCount / rowCount }

    public var description: String {
        "\(name) \(type) \(shape) at \(offset) (\(byteCount) bytes)"
    }

    /// Checks a shape and type and computes the sizes; the error names the tensor.
    static func sizes(name: String, shape: [Int], type: GGMLType) throws -> (elements: Int, bytes: Int) {
        guard (1...4).contains(shape.count) else {
            throw GGUFError(.invalidShape, "tensor '\(name)' has \(shape.count) dimensions; 1 to 4 are allowed")
        }
        var elements = 1
        for (axis, dimension) in shape.enumerated() {
            guard dimension > 0 else {
                throw GGUFError(.invalidShape, "tensor '\(name)' has dimension \(axis) = \(dimension); dimensions must be positive")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw GGUFError(.invalidShape, "tensor '\(name)' shape \(shape) has more elements than fit in an Int")
            }
            elements = product
        }
        // Quantised rows must be whole blocks: ggml quantises row by row.
        guard shape[0] % type.blockSize == 0 else {
            throw GGUFError(.invalidShape, "tensor '\(name)' row length \(shape[0]) is not a multiple of "
                + "\(type)'s block size \(type.blockSize)")
        }
        guard let bytes = type.byteCount(elements: elements) else {
            throw GGUFError(.invalidShape, "tensor '\(name)' shape \(shape) of \(type) takes more bytes than fit in an Int")
        }
        return (elements, bytes)
    }

    init(name: String, shape: [Int], type: GGMLType, offset: Int, elementCount: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.elementCount = elementCount
        self.byteCount = byteCount
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF version 3 file: metadata in the order it was set, then
/// tensors in the order they were added, each aligned and padded the way
/// llama.cpp and the Python `gguf` package expect (tensor data packed in
/// order, every tensor padded to the alignment).
///
/// Tensor data can be given as bytes or as a producer called while the file
/// is written, so a large model streams to disk instead of sitting in memory.
public struct GGUFWriter {
    /// Called at write time with a function that appends bytes; must emit
    /// exactly the tensor's byte count in total, in any number of chunks.
    public typealias Producer = (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void

    private enum Source {
        case bytes([UInt8])
        case producer(Producer)
    }

    private struct PendingTensor {
        var name: String
        var shape: [Int]
        var type: GGMLType
        var byteCount: Int
        var source: Source
    }

    public let alignment: Int
    public private(set) var metadata = GGUFMetadata()
    private var tensors: [PendingTensor] = []
    private var tensorNames = Set<String>()

    /// llama.cpp keeps tensor names in a 64-byte buffer with a terminating zero.
    public static let maximumTensorNameLength = 63

    /// `alignment` other than the default 32 is recorded as `general.alignment`.
    public init(alignment: Int = 32) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError(.invalidAlignment, "writer alignment \(alignment) must be a nonzero power of two")
        }
        self.alignment = alignment
        if alignment != GGUFParser.defaultAlignment {
            try metadata.append("general.alignment", .uint32(UInt32(alignment)))
        }
    }

    /// Adds a metadata key; keys are written in the order they were set.
    /// `general.alignment` may only repeat the writer's own alignment (so
    /// copying every key of another file works).
    public mutating func set(_ key: String, _ value: GGUFValue) throws {
        guard !key.isEmpty, key.utf8.count <= GGUFParser.maximumKeyLength else {
            throw GGUFError(.invalidKey, "key of \(key.utf8.count) bytes; 1 to \(GGUFParser.maximumKeyLength) are allowed")
        }
        if key == "general.alignment" {
            guard value.integer(as: Int.self) == alignment else {
                throw GGUFError(.invalidAlignment, "'general.alignment' \(value) differs from the writer's "
                    + "alignment \(alignment); choose it with GGUFWriter(alignment:)")
            }
            if metadata[key] != nil { return }
        }
        try metadata.append(key, value)
    }

    /// Adds a tensor whose data is already in memory.
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, bytes: [UInt8]) throws {
        let byteCount = try checkTensor(name: name, shape: shape, type: type)
        guard bytes.count == byteCount else {
            throw GGUFError(.dataSizeMismatch, "tensor '\(name)' \(type) \(shape) needs \(byteCount) bytes, got \(bytes.count)")
        }
        append(PendingTensor(name: name, shape: shape, type: type, byteCount: byteCount, source: .bytes(bytes)))
    }

    /// Adds an F32 tensor from floats.
    public mutating func addTensor(name: String, shape: [Int], floats: [Float]) throws {
        try addTensor(name: name, shape: shape, type: .f32, bytes: floats.withUnsafeBytes { Array($0) })
    }

    /// Adds a tensor whose data `producer` streams while the file is written.
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType,
                                   producer: @escaping Producer) throws {
        let byteCount = try checkTensor(name: name, shape: shape, type: type)
        append(PendingTensor(name: name, shape: shape, type: type, byteCount: byteCount, source: .producer(producer)))
    }

    private mutating func checkTensor(name: String, shape: [Int], type: GGMLType) throws -> Int {
        guard !name.isEmpty, name.utf8.count <= Self.maximumTensorNameLength else {
            throw GGUFError(.invalidKey, "tensor name '\(name)' must be 1 to \(Self.maximumTensorNameLength) bytes")
        }
        guard !tensorNames.contains(name) else {
            throw GGUFError(.duplicateTensor, "tensor '\(name)' was already added")
        }
        return try GGUFTensorInfo.sizes(name: name, shape: shape, type: type).bytes
    }

    private mutating func append(_ tensor: PendingTensor) {
        tensorNames.insert(tensor.name)
        tensors.append(tensor)
    }

    // MARK: - Output

    /// Writes the file to `path`, going through `path.partial` and a rename
    /// so a failed or interrupted write never leaves a half file at `path`.
    public func write(toFile path: String) throws {
        let partial = path + ".partial"
        let sink = try FileSink(creating: partial)
        var sinkCopy = sink
        do {
            try write(to: &sinkCopy)
            try sink.close()
        } catch {
            sink.abandon()
            unlink(partial)
            throw error
        }
        guard rename(partial, path) == 0 else {
            let reason = GGUFStorage.errnoText()
            unlink(partial)
            throw GGUFError(.io, "cannot rename '\(partial)' to '\(path)': \(reason)")
        }
    }

    /// The whole file in memory (for tests and small files).
    public func serialized() throws -> [UInt8] {
        var sink = MemorySink()
        try write(to: &sink)
        return sink.bytes
    }

    private func write<Sink: ByteSink>(to sink: inout Sink) throws {
        var head = ByteEncoder()
        head.bytes.append(contentsOf: "GGUF".utf8)
        head.append(UInt32(3))
        head.append(UInt64(tensors.count))
        head.append(UInt64(metadata.count))
        for (key, value) in metadata {
            head.appendString(key)
            head.append(value.type.rawValue)
            head.appendValue(value)
        }
        var offset = 0
        for tensor in tensors {
            head.appendString(tensor.name)
            head.append(UInt32(tensor.shape.count))
            for dimension in tensor.shape { head.append(UInt64(dimension)) }
            head.append(tensor.type.rawValue)
            head.append(UInt64(offset))
            offset += padded(tensor.byteCount)
        }
        try sink.write(head.bytes)
        try sink.writeZeros(padded(head.bytes.count) - head.bytes.count)
        for tensor in tensors {
            try writeData(of: tensor, to: &sink)
            try sink.writeZeros(padded(tensor.byteCount) - tensor.byteCount)
        }
    }

    private func writeData<Sink: ByteSink>(of tensor: PendingTensor, to sink: inout Sink) throws {
        switch tensor.source {
        case .bytes(let bytes):
            try sink.write(bytes)
        case .producer(let producer):
            var written = 0
            try producer { chunk in
                written += chunk.count
                guard written <= tensor.byteCount else {
                    throw GGUFError(.dataSizeMismatch, "producer of tensor '\(tensor.name)' wrote more than its \(tensor.byteCount) bytes")
                }
                try sink.write(chunk)
            }
            guard written == tensor.byteCount else {
                throw GGUFError(.dataSizeMismatch, "producer of tensor '\(tensor.name)' wrote \(written) of its \(tensor.byteCount) bytes")
            }
        }
    }

    private func padded(_ size: Int) -> Int {
        (size + alignment - 1) / alignment * alignment
    }
}

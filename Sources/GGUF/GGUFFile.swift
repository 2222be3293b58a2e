/// A GGUF file (version 2 or 3), memory-mapped read-only and fully checked
/// on open: once `init` returns, every tensor's data lies inside the
/// mapping and every metadata value is well formed.
///
/// Immutable after init, so it is safe to share between threads. Tensor data
/// pointers stay valid as long as this object lives.
public final class GGUFFile: @unchecked Sendable {
    public let version: UInt32
    /// Alignment of tensor data, from `general.alignment` (default 32).
    public let alignment: Int
    public let metadata: GGUFMetadata
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int

    private let storage: GGUFStorage
    private let indexByName: [String: Int]

    /// Maps and checks the file at `path`.
    public convenience init(path: String) throws {
        try self.init(storage: GGUFStorage(path: path))
    }

    /// Checks a GGUF file held in memory (the bytes are copied). Handy for
    /// files built in tests with `GGUFWriter.serialized()`.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(storage: GGUFStorage(copying: bytes))
    }

    private init(storage: GGUFStorage) throws {
        var parser = GGUFParser(storage: storage)
        let header = try parser.readHeader()
        let metadata = try parser.readMetadata(count: header.keyCount)
        let alignment = try GGUFParser.alignment(in: metadata)
        let infos = try parser.readTensorInfos(count: header.tensorCount)
        let dataOffset = try parser.dataOffset(alignment: alignment)
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            tensors.append(try parser.place(info, dataOffset: dataOffset, alignment: alignment))
        }

        self.storage = storage
        self.version = header.version
        self.metadata = metadata
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.tensors = tensors
        self.indexByName = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Size of the whole file in bytes.
    public var fileSize: Int { storage.bytes.count }

    /// Bytes of the file this process has resident now (its mapping's Rss),
    /// nil when that cannot be read (not Linux, not a mapping).
    public var residentBytes: Int? { storage.residentBytes() }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The tensor's bytes inside the mapping, valid while this object lives.
    /// `tensor` must come from this file (a programming error otherwise).
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensor.offset >= 0 && tensor.byteCount >= 0
                     && tensor.offset <= fileSize - tensor.byteCount,
                     "tensor '\(tensor.name)' does not belong to this file")
        return UnsafeRawBufferPointer(rebasing: storage.bytes[tensor.offset..<tensor.offset + tensor.byteCount])
    }

    /// Gives back the resident memory of the tensor's whole pages, for a
    /// caller that has copied the tensor elsewhere (weights repacked at load)
    /// and will not read it again soon. The bytes stay valid: if read, they
    /// are paged in again from the file. Does nothing for a file held in
    /// memory (`init(bytes:)`).
    public func dropPages(of tensor: GGUFTensorInfo) {
        storage.dropPages(offset: tensor.offset, count: tensor.byteCount)
    }

    /// As `dropPages(of:)` for `count` bytes starting `offset` bytes into the
    /// tensor (one expert's slice of a stacked tensor): only whole pages
    /// inside that range, so a neighbour's bytes stay resident. A range
    /// running past the tensor's end is cut at it; one starting outside does nothing.
    public func dropPages(of tensor: GGUFTensorInfo, offset: Int, count: Int) {
        guard offset >= 0, count > 0, offset < tensor.byteCount else { return }
        storage.dropPages(offset: tensor.offset + offset, count: min(count, tensor.byteCount - offset))
    }

    /// The named tensor's bytes, or an error naming the missing tensor.
    public func data(named name: String) throws -> UnsafeRawBufferPointer {
        guard let info = tensor(named: name) else {
            throw GGUFError(.missingTensor, "tensor '\(name)' is not in the file")
        }
        return data(of: info)
    }
}

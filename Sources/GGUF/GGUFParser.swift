/// Reads the parts of a GGUF file in order: header, metadata, tensor infos,
/// then places each tensor in the data section. Each step checks what it
/// reads before the next one trusts it.
struct GGUFParser {
    struct Header {
        var version: UInt32
        var tensorCount: UInt64
        var keyCount: UInt64
    }

    /// A tensor info as read, before its offset is checked against the file.
    struct RawTensor {
        var name: String
        var shape: [Int]
        var type: GGMLType
        var elementCount: Int
        var byteCount: Int
        var relativeOffset: UInt64
        var infoOffset: Int
    }

    static let supportedVersions: ClosedRange<UInt32> = 2...3
    static let defaultAlignment = 32
    static let maximumKeyLength = 65_535
    static let maximumDimensions = 4
    /// Smallest encodings, used to refuse hostile counts before allocating:
    /// a key-value pair is a key length, a type and at least one byte; a
    /// tensor info is a name length, a dimension count, one dimension, a
    /// type and an offset.
    static let minimumKeyValueSize = 8 + 4 + 1
    static let minimumTensorInfoSize = 8 + 4 + 8 + 4 + 8

    private let storage: GGUFStorage
    private var reader: ByteReader

    init(storage: GGUFStorage) {
        self.storage = storage
        self.reader = ByteReader(storage.bytes)
    }

    // MARK: - Header

    mutating func readHeader() throws -> Header {
        let magic = try reader.readBytes(4, for: "magic number")
        guard magic.elementsEqual("GGUF".utf8) else {
            throw GGUFError(.badMagic, "file does not start with 'GGUF' (found bytes \(Array(magic)))")
        }
        let version = try reader.read(UInt32.self, for: "version")
        guard Self.supportedVersions.contains(version) else {
            if Self.supportedVersions.contains(version.byteSwapped) {
                throw GGUFError(.unsupportedVersion, "file is big-endian GGUF (version \(version.byteSwapped)); only little-endian is supported")
            }
            throw GGUFError(.unsupportedVersion, "version \(version) is not supported; versions 2 and 3 are")
        }
        let tensorCount = try reader.read(UInt64.self, for: "tensor count")
        let keyCount = try reader.read(UInt64.self, for: "metadata key count")
        try reader.requireItems(keyCount, size: Self.minimumKeyValueSize, for: "metadata key count")
        try reader.requireItems(tensorCount, size: Self.minimumTensorInfoSize, for: "tensor count")
        return Header(version: version, tensorCount: tensorCount, keyCount: keyCount)
    }

    // MARK: - Metadata

    mutating func readMetadata(count: UInt64) throws -> GGUFMetadata {
        var metadata = GGUFMetadata()
        for index in 0..<Int(count) {  // fits: checked against the bytes left
            let keyOffset = reader.offset
            let key = try readKey(index: index)
            let type = try reader.readValueType(for: "key '\(key)'")
            let value = try reader.readValue(of: type, key: key, owner: storage)
            do {
                try metadata.append(key, value)
            } catch let error as GGUFError {
                throw GGUFError(error.kind, "\(error.message) (second at offset \(keyOffset))")
            }
        }
        return metadata
    }

    private mutating func readKey(index: Int) throws -> String {
        let start = reader.offset
        let bytes = try reader.readStringBytes(for: "metadata key #\(index)")
        guard !bytes.isEmpty, bytes.count <= Self.maximumKeyLength else {
            throw GGUFError(.invalidKey, "metadata key #\(index) at offset \(start) has length \(bytes.count); "
                + "1 to \(Self.maximumKeyLength) bytes are allowed")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `general.alignment`, if present, must be a nonzero power of two.
    static func alignment(in metadata: GGUFMetadata) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard let alignment = value.integer(as: Int.self), alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError(.invalidAlignment, "key 'general.alignment' is \(value) (\(value.type)); "
                + "it must be a nonzero power of two")
        }
        return alignment
    }

    // MARK: - Tensor infos

    mutating func readTensorInfos(count: UInt64) throws -> [RawTensor] {
        var tensors: [RawTensor] = []
        tensors.reserveCapacity(Int(count))  // small: checked against the bytes left
        var seen = Set<String>()
        for index in 0..<Int(count) {
            let tensor = try readTensorInfo(index: index)
            guard seen.insert(tensor.name).inserted else {
                throw GGUFError(.duplicateTensor, "tensor '\(tensor.name)' appears more than once "
                    + "(second at offset \(tensor.infoOffset))")
            }
            tensors.append(tensor)
        }
        return tensors
    }

    private mutating func readTensorInfo(index: Int) throws -> RawTensor {
        let infoOffset = reader.offset
        let name = try reader.readString(for: "name of tensor #\(index)")
        let dimensionCount = try reader.read(UInt32.self, for: "dimension count of tensor '\(name)'")
        guard (1...UInt32(Self.maximumDimensions)).contains(dimensionCount) else {
            throw GGUFError(.invalidShape, "tensor '\(name)' has \(dimensionCount) dimensions; "
                + "1 to \(Self.maximumDimensions) are allowed")
        }
        var shape: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let dimension = try reader.read(UInt64.self, for: "dimension \(axis) of tensor '\(name)'")
            guard let value = Int(exactly: dimension) else {
                throw GGUFError(.invalidShape, "tensor '\(name)' has dimension \(axis) = \(dimension), "
                    + "more than a signed 64-bit count (negative in ggml's int64)")
            }
            shape.append(value)
        }
        let typeOffset = reader.offset
        let rawType = try reader.read(UInt32.self, for: "type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else {
            throw GGUFError(.invalidTensorType, "tensor '\(name)' has unknown type \(rawType) at offset \(typeOffset)")
        }
        let sizes = try GGUFTensorInfo.sizes(name: name, shape: shape, type: type)
        let offset = try reader.read(UInt64.self, for: "data offset of tensor '\(name)'")
        return RawTensor(name: name, shape: shape, type: type, elementCount: sizes.elements,
                         byteCount: sizes.bytes, relativeOffset: offset, infoOffset: infoOffset)
    }

    // MARK: - Data

    /// The data section starts at the next multiple of `alignment` after the
    /// tensor infos. It may lie past the end of a file without tensors.
    func dataOffset(alignment: Int) throws -> Int {
        let end = reader.offset
        let padding = (alignment - end % alignment) % alignment
        let (start, overflow) = end.addingReportingOverflow(padding)
        guard !overflow else {
            throw GGUFError(.invalidAlignment, "alignment \(alignment) puts the data section past any possible file size")
        }
        return start
    }

    /// Checks that a tensor's data is aligned and inside the file.
    func place(_ raw: RawTensor, dataOffset: Int, alignment: Int) throws -> GGUFTensorInfo {
        guard raw.relativeOffset % UInt64(alignment) == 0 else {
            throw GGUFError(.misalignedTensor, "tensor '\(raw.name)' has data offset \(raw.relativeOffset), "
                + "not a multiple of the alignment \(alignment)")
        }
        let fileSize = storage.bytes.count
        guard let relative = Int(exactly: raw.relativeOffset),
              case let (start, overflow1) = dataOffset.addingReportingOverflow(relative), !overflow1,
              case let (end, overflow2) = start.addingReportingOverflow(raw.byteCount), !overflow2,
              end <= fileSize else {
            throw GGUFError(.tensorOutOfBounds, "tensor '\(raw.name)' data (\(raw.byteCount) bytes at data offset "
                + "\(raw.relativeOffset), section starts at \(dataOffset)) goes past the end of the \(fileSize)-byte file")
        }
        return GGUFTensorInfo(name: raw.name, shape: raw.shape, type: raw.type, offset: start,
                              elementCount: raw.elementCount, byteCount: raw.byteCount)
    }
}

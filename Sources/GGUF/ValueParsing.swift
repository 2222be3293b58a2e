/// Reading metadata values from untrusted bytes. Each value is checked
/// completely here (lengths, counts, nested arrays, bool bytes), so the
/// `GGUFValue`s and `GGUFArray`s handed out never need checking again.
extension ByteReader {
    /// Nested arrays deeper than this are refused: real files never nest at
    /// all, and a hostile file could otherwise recurse the stack away.
    static let maximumArrayDepth = 4

    mutating func readValueType(for what: @autoclosure () -> String) throws -> GGUFValueType {
        let start = offset
        let raw = try read(UInt32.self, for: "value type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError(.invalidValueType, "unknown value type \(raw) for \(what()) at offset \(start)")
        }
        return type
    }

    /// Reads one value of `type`. `key` names it in errors; `owner` is kept
    /// alive by arrays that point into the bytes.
    mutating func readValue(of type: GGUFValueType, key: String, owner: AnyObject,
                            depth: Int = 0) throws -> GGUFValue {
        let what = "value of key '\(key)'"
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, for: what))
        case .int8: return .int8(try read(Int8.self, for: what))
        case .uint16: return .uint16(try read(UInt16.self, for: what))
        case .int16: return .int16(try read(Int16.self, for: what))
        case .uint32: return .uint32(try read(UInt32.self, for: what))
        case .int32: return .int32(try read(Int32.self, for: what))
        case .float32: return .float32(try readFloat(for: what))
        case .uint64: return .uint64(try read(UInt64.self, for: what))
        case .int64: return .int64(try read(Int64.self, for: what))
        case .float64: return .float64(try readDouble(for: what))
        case .bool: return .bool(try readBool(for: what))
        case .string: return .string(try readString(for: what))
        case .array: return .array(try readArray(key: key, owner: owner, depth: depth + 1))
        }
    }

    private mutating func readBool(for what: @autoclosure () -> String) throws -> Bool {
        let start = offset
        let byte = try read(UInt8.self, for: what())
        guard byte <= 1 else {
            throw GGUFError(.invalidValue, "\(what()) is a bool stored as \(byte) at offset \(start); only 0 and 1 are valid")
        }
        return byte == 1
    }

    /// Reads an array header and checks every element, keeping only the byte
    /// range. Work is bounded by the bytes left, so a lying count cannot hang.
    mutating func readArray(key: String, owner: AnyObject, depth: Int) throws -> GGUFArray {
        guard depth <= Self.maximumArrayDepth else {
            throw GGUFError(.invalidValueType, "key '\(key)' nests arrays deeper than \(Self.maximumArrayDepth) "
                + "levels at offset \(offset)")
        }
        let elementType = try readValueType(for: "array elements of key '\(key)'")
        let count = try read(UInt64.self, for: "array length of key '\(key)'")
        try requireItems(count, size: elementType.minimumSize, for: "array of key '\(key)'")
        let elementCount = Int(count)  // fits: bounded by the bytes left
        let start = offset
        try skipElements(elementType, count: elementCount, key: key, owner: owner, depth: depth)
        let encoded = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
        return GGUFArray(elementType: elementType, count: elementCount, encoded: encoded, owner: owner)
    }

    private mutating func skipElements(_ type: GGUFValueType, count: Int, key: String,
                                       owner: AnyObject, depth: Int) throws {
        switch type {
        case .string:
            for index in 0..<count {
                _ = try readStringBytes(for: "element \(index) of key '\(key)'")
            }
        case .bool:
            for index in 0..<count {
                _ = try readBool(for: "element \(index) of key '\(key)'")
            }
        case .array:
            for _ in 0..<count {
                _ = try readArray(key: key, owner: owner, depth: depth + 1)
            }
        default:
            // Fixed size: requireItems already proved the bytes are there.
            try skip(count * (type.fixedSize ?? 1), for: "array of key '\(key)'")
        }
    }
}

/// Appends little-endian GGUF encodings to a byte array; used by the writer
/// and to build arrays in memory.
struct ByteEncoder {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendString(_ string: String) {
        let utf8 = Array(string.utf8)
        append(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func appendArray(_ array: GGUFArray) {
        append(array.elementType.rawValue)
        append(UInt64(array.count))
        bytes.append(contentsOf: array.encoded)
    }

    /// The value's payload, without its type id.
    mutating func appendValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): appendString(v)
        case .array(let v): appendArray(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        }
    }
}

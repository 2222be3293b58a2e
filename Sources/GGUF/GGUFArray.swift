/// A metadata array kept in its GGUF encoding and decoded on request.
///
/// Tokenizer arrays hold 50k–150k strings; boxing each one in an enum at
/// load time would dominate the load. Instead the reader checks the encoding
/// once (lengths, bounds, bool bytes) and keeps the byte range; `strings()`,
/// `numbers(as:)` and friends decode it when asked. The bytes point into the
/// file's mapping, which this value keeps alive.
public struct GGUFArray: @unchecked Sendable, Equatable, CustomStringConvertible {
    // @unchecked: the bytes are immutable and `owner` keeps them alive.

    /// The type of every element.
    public let elementType: GGUFValueType
    /// The number of elements.
    public let count: Int
    /// The encoded elements (without the type and count header). Already
    /// validated, so decoding never has to check bounds again.
    let encoded: UnsafeRawBufferPointer
    private let owner: AnyObject

    init(elementType: GGUFValueType, count: Int, encoded: UnsafeRawBufferPointer, owner: AnyObject) {
        self.elementType = elementType
        self.count = count
        self.encoded = encoded
        self.owner = owner
    }

    /// Builds an array from encoded bytes made in memory.
    private init(elementType: GGUFValueType, count: Int, bytes: [UInt8]) {
        let storage = GGUFStorage(copying: bytes)
        self.init(elementType: elementType, count: count, encoded: storage.bytes, owner: storage)
    }

    // MARK: - Building

    public init<T: GGUFNumeric>(_ values: [T]) {
        let bytes = values.withUnsafeBytes { Array($0) }
        self.init(elementType: T.ggufValueType, count: values.count, bytes: bytes)
    }

    public init(_ values: [Bool]) {
        self.init(elementType: .bool, count: values.count, bytes: values.map { $0 ? 1 : 0 })
    }

    public init(_ values: [String]) {
        var encoder = ByteEncoder()
        for value in values { encoder.appendString(value) }
        self.init(elementType: .string, count: values.count, bytes: encoder.bytes)
    }

    /// An array of arrays (GGUF allows nesting; llama.cpp itself does not read it).
    public init(_ values: [GGUFArray]) {
        var encoder = ByteEncoder()
        for value in values { encoder.appendArray(value) }
        self.init(elementType: .array, count: values.count, bytes: encoder.bytes)
    }

    // MARK: - Decoding

    /// The elements as `T` when they are stored exactly as `T`; nil otherwise.
    public func numbers<T: GGUFNumeric>(as: T.Type = T.self) -> [T]? {
        guard elementType == T.ggufValueType else { return nil }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: encoded)
            initialized = count
        }
    }

    public func bools() -> [Bool]? {
        guard elementType == .bool else { return nil }
        return encoded.map { $0 != 0 }
    }

    /// The elements as strings; invalid UTF-8 is repaired with U+FFFD.
    public func strings() -> [String]? {
        guard elementType == .string else { return nil }
        var result: [String] = []
        result.reserveCapacity(count)
        forEachStringBytes { result.append(String(decoding: $0, as: UTF8.self)) }
        return result
    }

    /// Calls `body` with the raw bytes of each string element, in order, for
    /// callers (tokenizers) that need the exact bytes rather than text.
    public func forEachStringBytes(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard elementType == .string else { return }
        var offset = 0
        for _ in 0..<count {
            let length = Int(UInt64(littleEndian: encoded.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
            try body(UnsafeRawBufferPointer(rebasing: encoded[offset..<offset + length]))
            offset += length
        }
    }

    public func arrays() -> [GGUFArray]? {
        guard elementType == .array else { return nil }
        return values().compactMap { if case .array(let a) = $0 { return a } else { return nil } }
    }

    /// Every element boxed as a `GGUFValue` (convenient, slower for big arrays).
    public func values() -> [GGUFValue] {
        // The bytes were validated when the array was made, so this cannot fail.
        var reader = ByteReader(encoded)
        var result: [GGUFValue] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            guard let value = try? reader.readValue(of: elementType, key: "element \(index)",
                                                    owner: owner, depth: 1) else { break }
            result.append(value)
        }
        return result
    }

    /// Integer elements of any width converted to `T`; nil when the elements
    /// are not integers. `firstOutOfRange` is the first element that does not fit.
    func integers<T: FixedWidthInteger>(as: T.Type) -> (values: [T], firstOutOfRange: Int?)? {
        switch elementType {
        case .uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64: break
        default: return nil
        }
        // Fast path for the common case (token types are int32 arrays).
        if elementType == .int32, let same = numbers(as: Int32.self) as? [T] { return (same, nil) }
        var result: [T] = []
        result.reserveCapacity(count)
        for (index, value) in values().enumerated() {
            guard let converted = value.integer(as: T.self) else { return (result, index) }
            result.append(converted)
        }
        return (result, nil)
    }

    // MARK: - Protocols

    public static func == (lhs: GGUFArray, rhs: GGUFArray) -> Bool {
        lhs.elementType == rhs.elementType && lhs.count == rhs.count
            && lhs.encoded.elementsEqual(rhs.encoded)
    }

    public var description: String { "[\(count) × \(elementType)]" }
}

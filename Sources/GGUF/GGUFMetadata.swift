/// A file's metadata: keys in file order, with typed lookups whose errors
/// name the key.
///
/// Lookups throw `.missingKey` when the key is absent; the `…IfPresent`
/// variants return nil instead but still throw on a wrong type, so a file
/// that stores a string where a number belongs is never silently ignored.
/// Integer lookups accept any stored integer width where the value fits,
/// because files disagree on u32/i32/u64 for the same key.
public struct GGUFMetadata: Sendable, Sequence {
    public typealias Element = (key: String, value: GGUFValue)

    private var entries: [Element] = []
    private var indexByKey: [String: Int] = [:]

    init() {}

    /// Keys in file order.
    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }

    public subscript(key: String) -> GGUFValue? {
        indexByKey[key].map { entries[$0].value }
    }

    public func makeIterator() -> IndexingIterator<[Element]> {
        entries.makeIterator()
    }

    /// Adds a key at the end; a key that is already present is an error.
    mutating func append(_ key: String, _ value: GGUFValue) throws {
        guard indexByKey[key] == nil else {
            throw GGUFError(.duplicateKey, "key '\(key)' appears more than once")
        }
        indexByKey[key] = entries.count
        entries.append((key, value))
    }

    // MARK: - Scalars

    /// The integer at `key` as `T`, whatever integer width the file used.
    public func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type = Int.self) throws -> T {
        try integerIfPresent(key, as: type) ?? missing(key)
    }

    public func integerIfPresent<T: FixedWidthInteger>(_ key: String, as type: T.Type = Int.self) throws -> T? {
        guard let value = self[key] else { return nil }
        guard value.isInteger else { throw mismatch(key, value, expected: "an integer") }
        guard let converted = value.integer(as: T.self) else {
            throw GGUFError(.valueOutOfRange, "key '\(key)' holds \(value), which does not fit in \(T.self)")
        }
        return converted
    }

    public func int(_ key: String) throws -> Int { try integer(key, as: Int.self) }
    public func intIfPresent(_ key: String) throws -> Int? { try integerIfPresent(key, as: Int.self) }
    public func uint32(_ key: String) throws -> UInt32 { try integer(key, as: UInt32.self) }
    public func uint32IfPresent(_ key: String) throws -> UInt32? { try integerIfPresent(key, as: UInt32.self) }

    /// A float32 or float64 value as `Float`.
    public func float(_ key: String) throws -> Float {
        try floatIfPresent(key) ?? missing(key)
    }

    public func floatIfPresent(_ key: String) throws -> Float? {
        switch self[key] {
        case nil: return nil
        case .float32(let v)?: return v
        case .float64(let v)?: return Float(v)
        case let other?: throw mismatch(key, other, expected: "a float")
        }
    }

    public func bool(_ key: String) throws -> Bool {
        try boolIfPresent(key) ?? missing(key)
    }

    public func boolIfPresent(_ key: String) throws -> Bool? {
        switch self[key] {
        case nil: return nil
        case .bool(let v)?: return v
        case let other?: throw mismatch(key, other, expected: "a bool")
        }
    }

    public func string(_ key: String) throws -> String {
        try stringIfPresent(key) ?? missing(key)
    }

    public func stringIfPresent(_ key: String) throws -> String? {
        switch self[key] {
        case nil: return nil
        case .string(let v)?: return v
        case let other?: throw mismatch(key, other, expected: "a string")
        }
    }

    // MARK: - Arrays

    public func array(_ key: String) throws -> GGUFArray {
        try arrayIfPresent(key) ?? missing(key)
    }

    public func arrayIfPresent(_ key: String) throws -> GGUFArray? {
        switch self[key] {
        case nil: return nil
        case .array(let v)?: return v
        case let other?: throw mismatch(key, other, expected: "an array")
        }
    }

    public func strings(_ key: String) throws -> [String] {
        try stringsIfPresent(key) ?? missing(key)
    }

    public func stringsIfPresent(_ key: String) throws -> [String]? {
        guard let array = try arrayIfPresent(key) else { return nil }
        return try array.strings() ?? elementMismatch(key, array, expected: "strings")
    }

    /// A float32 array (float64 arrays are narrowed).
    public func floats(_ key: String) throws -> [Float] {
        try floatsIfPresent(key) ?? missing(key)
    }

    public func floatsIfPresent(_ key: String) throws -> [Float]? {
        guard let array = try arrayIfPresent(key) else { return nil }
        if let floats = array.numbers(as: Float.self) { return floats }
        if let doubles = array.numbers(as: Double.self) { return doubles.map(Float.init) }
        return try elementMismatch(key, array, expected: "floats")
    }

    /// An integer array of any element width, converted to `T` where every value fits.
    public func integers<T: FixedWidthInteger>(_ key: String, as type: T.Type = Int.self) throws -> [T] {
        try integersIfPresent(key, as: type) ?? missing(key)
    }

    public func integersIfPresent<T: FixedWidthInteger>(_ key: String, as type: T.Type = Int.self) throws -> [T]? {
        guard let array = try arrayIfPresent(key) else { return nil }
        guard let (values, bad) = array.integers(as: T.self) else {
            return try elementMismatch(key, array, expected: "integers")
        }
        if let bad {
            throw GGUFError(.valueOutOfRange, "element \(bad) of key '\(key)' does not fit in \(T.self)")
        }
        return values
    }

    public func int32s(_ key: String) throws -> [Int32] { try integers(key, as: Int32.self) }
    public func int32sIfPresent(_ key: String) throws -> [Int32]? { try integersIfPresent(key, as: Int32.self) }

    // MARK: - Errors

    private func missing<T>(_ key: String) throws -> T {
        throw GGUFError(.missingKey, "key '\(key)' is missing")
    }

    private func mismatch(_ key: String, _ value: GGUFValue, expected: String) -> GGUFError {
        GGUFError(.typeMismatch, "key '\(key)' holds a \(value.type), expected \(expected)")
    }

    private func elementMismatch<T>(_ key: String, _ array: GGUFArray, expected: String) throws -> T {
        throw GGUFError(.typeMismatch, "key '\(key)' is an array of \(array.elementType), expected \(expected)")
    }
}

#if _endian(big)
#error("GGUF files are little-endian; this module reads them in place and assumes a little-endian host")
#endif

/// Metadata value types as numbered in GGUF files (`gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes per value for fixed-size types; nil for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value can take: a string needs its 8-byte length,
    /// an array its 4-byte element type and 8-byte count. Used to refuse
    /// hostile counts before allocating anything.
    var minimumSize: Int {
        switch self {
        case .string: return 8
        case .array: return 12
        default: return fixedSize ?? 1
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }
}

/// Fixed-size numbers that GGUF stores in metadata arrays, so arrays of them
/// can be built and read back with one generic call.
public protocol GGUFNumeric: Sendable {
    static var ggufValueType: GGUFValueType { get }
}

extension UInt8: GGUFNumeric { public static var ggufValueType: GGUFValueType { .uint8 } }
extension Int8: GGUFNumeric { public static var ggufValueType: GGUFValueType { .int8 } }
extension UInt16: GGUFNumeric { public static var ggufValueType: GGUFValueType { .uint16 } }
extension Int16: GGUFNumeric { public static var ggufValueType: GGUFValueType { .int16 } }
extension UInt32: GGUFNumeric { public static var ggufValueType: GGUFValueType { .uint32 } }
extension Int32: GGUFNumeric { public static var ggufValueType: GGUFValueType { .int32 } }
extension Float: GGUFNumeric { public static var ggufValueType: GGUFValueType { .float32 } }
extension UInt64: GGUFNumeric { public static var ggufValueType: GGUFValueType { .uint64 } }
extension Int64: GGUFNumeric { public static var ggufValueType: GGUFValueType { .int64 } }
extension Double: GGUFNumeric { public static var ggufValueType: GGUFValueType { .float64 } }

/// One metadata value. Arrays stay in their encoded form (see `GGUFArray`)
/// so a 150k-entry vocabulary costs nothing until someone asks for it.
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    /// The GGUF type id this value is written with.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The value as `T` when it is an integer of any width that fits in `T`.
    public func integer<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        switch self {
        case .uint8(let v): return T(exactly: v)
        case .int8(let v): return T(exactly: v)
        case .uint16(let v): return T(exactly: v)
        case .int16(let v): return T(exactly: v)
        case .uint32(let v): return T(exactly: v)
        case .int32(let v): return T(exactly: v)
        case .uint64(let v): return T(exactly: v)
        case .int64(let v): return T(exactly: v)
        default: return nil
        }
    }

    /// Whether the value is an integer of some width (used to tell a type
    /// mismatch from an out-of-range value).
    var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .uint8(let v): return "\(v)"
        case .int8(let v): return "\(v)"
        case .uint16(let v): return "\(v)"
        case .int16(let v): return "\(v)"
        case .uint32(let v): return "\(v)"
        case .int32(let v): return "\(v)"
        case .float32(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let v): return "\"\(v)\""
        case .array(let v): return "\(v)"
        case .uint64(let v): return "\(v)"
        case .int64(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        }
    }
}

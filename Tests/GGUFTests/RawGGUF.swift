import TestSupport
@testable import GGUF

/// The tests' seeded generator (TestSupport), visible to every file of this module.
typealias SeededGenerator = TestSupport.SeededGenerator

/// Builds GGUF bytes by hand, field by field, so tests can make files that
/// the writer would refuse to make (wrong counts, bad types, lying lengths).
struct RawGGUF {
    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var keyValues: [[UInt8]] = []
    var tensorInfos: [[UInt8]] = []
    /// Overrides for the header counts; nil means the real count.
    var keyCount: UInt64?
    var tensorCount: UInt64?
    var alignment = 32
    var data: [UInt8] = []

    var bytes: [UInt8] {
        var out = ByteEncoder()
        out.bytes += magic
        out.append(version)
        out.append(tensorCount ?? UInt64(tensorInfos.count))
        out.append(keyCount ?? UInt64(keyValues.count))
        for kv in keyValues { out.bytes += kv }
        for info in tensorInfos { out.bytes += info }
        if !tensorInfos.isEmpty || !data.isEmpty {
            while out.bytes.count % alignment != 0 { out.bytes.append(0) }
        }
        out.bytes += data
        return out.bytes
    }

    /// One key-value pair with a raw type id and payload.
    static func keyValue(_ key: String, type: UInt32, payload: [UInt8]) -> [UInt8] {
        var out = ByteEncoder()
        out.appendString(key)
        out.append(type)
        out.bytes += payload
        return out.bytes
    }

    static func keyValue(_ key: String, _ value: GGUFValue) -> [UInt8] {
        var payload = ByteEncoder()
        payload.appendValue(value)
        return keyValue(key, type: value.type.rawValue, payload: payload.bytes)
    }

    static func tensorInfo(_ name: String, dims: [UInt64], type: UInt32 = GGMLType.f32.rawValue,
                           offset: UInt64 = 0, dimensionCount: UInt32? = nil) -> [UInt8] {
        var out = ByteEncoder()
        out.appendString(name)
        out.append(dimensionCount ?? UInt32(dims.count))
        for dim in dims { out.append(dim) }
        out.append(type)
        out.append(offset)
        return out.bytes
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// A small but complete file: every kind of section, two tensors, a string
/// array; used by the truncation and fuzz tests.
func sampleFile() throws -> [UInt8] {
    var writer = try GGUFWriter()
    try writer.set("general.architecture", .string("llama"))
    try writer.set("llama.block_count", .uint32(2))
    try writer.set("tokenizer.ggml.tokens", .array(GGUFArray(["a", "bc", "déf"])))
    try writer.set("tokenizer.ggml.scores", .array(GGUFArray([Float(0.5), -1.25, 3])))
    try writer.set("nested", .array(GGUFArray([GGUFArray([Int32(1), 2]), GGUFArray([true, false])])))
    try writer.addTensor(name: "a", shape: [32, 2], type: .q8_0, bytes: (0..<68).map { UInt8($0) })
    // The last tensor is exactly 32 bytes, so the file ends without padding
    // and every shorter prefix cuts real data.
    try writer.addTensor(name: "b", shape: [4, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8])
    return try writer.serialized()
}


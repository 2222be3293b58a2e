import Foundation
import Testing
@testable import GGUF

@Suite("Writer to reader round trip")
struct RoundTripTests {
    static let scalarValues: [(String, GGUFValue)] = [
        ("u8", .uint8(250)), ("i8", .int8(-100)), ("u16", .uint16(65_000)), ("i16", .int16(-32_000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(-0.15625)),
        ("bool.true", .bool(true)), ("bool.false", .bool(false)), ("string", .string("héllo\nwörld 🙂")),
        ("empty", .string("")), ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(1e-300)),
    ]

    static let arrayValues: [(String, GGUFArray)] = [
        ("a.u8", GGUFArray([UInt8(0), 255])), ("a.i8", GGUFArray([Int8(-128), 127])),
        ("a.u16", GGUFArray([UInt16(1), 65_535])), ("a.i16", GGUFArray([Int16(-1), 7])),
        ("a.u32", GGUFArray([UInt32(3), .max])), ("a.i32", GGUFArray([Int32(-5), 0, 5])),
        ("a.f32", GGUFArray([Float(1.5), -2, .infinity])), ("a.bool", GGUFArray([true, false, true])),
        ("a.string", GGUFArray(["x", "", "ĠΩ"])), ("a.u64", GGUFArray([UInt64.max])),
        ("a.i64", GGUFArray([Int64.min, 1])), ("a.f64", GGUFArray([Double.pi])),
        ("a.empty", GGUFArray([String]())),
        ("a.nested", GGUFArray([GGUFArray([Int32(1)]), GGUFArray(["deep"])])),
    ]

    @Test("every scalar value type comes back equal and in order")
    func scalars() throws {
        var writer = try GGUFWriter()
        for (key, value) in Self.scalarValues { try writer.set(key, value) }
        let file = try GGUFFile(bytes: writer.serialized())
        #expect(file.version == 3)
        #expect(file.metadata.keys == Self.scalarValues.map(\.0))
        for (key, value) in Self.scalarValues {
            #expect(file.metadata[key] == value, "key \(key)")
        }
    }

    @Test("every array element type comes back equal and decodes to the same elements")
    func arrays() throws {
        var writer = try GGUFWriter()
        for (key, array) in Self.arrayValues { try writer.set(key, .array(array)) }
        let meta = try GGUFFile(bytes: writer.serialized()).metadata
        for (key, array) in Self.arrayValues {
            let read = try meta.array(key)
            #expect(read == array, "key \(key)")
            #expect(read.values() == array.values(), "key \(key)")
        }
        #expect(try meta.strings("a.string") == ["x", "", "ĠΩ"])
        #expect(try meta.floats("a.f32") == [1.5, -2, .infinity])
        #expect(try meta.int32s("a.i32") == [-5, 0, 5])
        #expect(try meta.array("a.bool").bools() == [true, false, true])
        #expect(try meta.array("a.u16").numbers(as: UInt16.self) == [1, 65_535])
        let nested = try #require(try meta.array("a.nested").arrays())
        #expect(nested.count == 2)
        #expect(nested[1].strings() == ["deep"])
    }

    @Test("tensors of several types keep name, shape, type and bytes", arguments: [
        (GGMLType.f32, [3, 2]), (.f16, [8]), (.bf16, [2, 2, 2]), (.q8_0, [64, 3]),
        (.q4_0, [32, 1, 2, 1]), (.q4_1, [32, 5]), (.q4_K, [256, 2]), (.q6_K, [512]),
    ])
    func tensors(type: GGMLType, shape: [Int]) throws {
        let elements = shape.reduce(1, *)
        let byteCount = try #require(type.byteCount(elements: elements))
        let payload = (0..<byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var writer = try GGUFWriter()
        try writer.addTensor(name: "first", shape: [3], floats: [1, 2, 3])
        try writer.addTensor(name: "t", shape: shape, type: type, bytes: payload)
        let file = try GGUFFile(bytes: writer.serialized())
        let info = try #require(file.tensor(named: "t"))
        #expect(info.shape == shape)
        #expect(info.type == type)
        #expect(info.elementCount == elements)
        #expect(info.byteCount == byteCount)
        #expect(info.rowLength == shape[0])
        #expect(info.rowCount == elements / shape[0])
        #expect(info.offset % file.alignment == 0)
        #expect(Array(file.data(of: info)) == payload)
        #expect(file.tensors.map(\.name) == ["first", "t"])
    }

    @Test("a non-default alignment is recorded and respected", arguments: [1, 64, 4096])
    func alignment(_ alignment: Int) throws {
        var writer = try GGUFWriter(alignment: alignment)
        try writer.set("general.alignment", .uint32(UInt32(alignment)))  // repeating it is allowed
        try writer.addTensor(name: "x", shape: [5], floats: [1, 2, 3, 4, 5])
        try writer.addTensor(name: "y", shape: [1], floats: [9])
        let file = try GGUFFile(bytes: writer.serialized())
        #expect(file.alignment == alignment)
        for tensor in file.tensors { #expect(tensor.offset % alignment == 0) }
        #expect(Array(file.data(of: try #require(file.tensor(named: "y")))) == RawGGUF.le(Float(9).bitPattern))
    }

    @Test("writing to a file streams producer data and reads back through mmap")
    func fileRoundTrip() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("gguf-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var writer = try GGUFWriter()
        try writer.set("general.name", .string("streamed"))
        // 3 MiB in 1000-byte chunks crosses the sink's buffer several times.
        let count = 3 << 20
        try writer.addTensor(name: "big", shape: [count], type: .i8) { emit in
            var chunk = [UInt8](repeating: 0, count: 1000)
            for start in stride(from: 0, to: count, by: chunk.count) {
                let length = min(chunk.count, count - start)
                for i in 0..<length { chunk[i] = UInt8(truncatingIfNeeded: (start + i) % 251) }
                try chunk[0..<length].withUnsafeBytes { try emit($0) }
            }
        }
        try writer.write(toFile: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        let file = try GGUFFile(path: path)
        #expect(try file.metadata.string("general.name") == "streamed")
        let data = try file.data(named: "big")
        #expect(data.count == count)
        #expect(data[0] == 0 && data[250] == 250 && data[251] == 0 && data[count - 1] == UInt8((count - 1) % 251))
        #expect(file.fileSize == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
    }

    @Test("copying every key of a file into a new writer reproduces the metadata")
    func copyMetadata() throws {
        let source = try GGUFFile(bytes: sampleFile())
        var writer = try GGUFWriter()
        for (key, value) in source.metadata { try writer.set(key, value) }
        let copy = try GGUFFile(bytes: writer.serialized())
        #expect(copy.metadata.keys == source.metadata.keys)
        for (key, value) in source.metadata { #expect(copy.metadata[key] == value) }
    }
}

@Suite("String bytes")
struct StringBytesTests {
    @Test("invalid UTF-8 is repaired in strings() but kept exact by forEachStringBytes")
    func invalidUTF8() throws {
        let raw: [UInt8] = [0x61, 0xFF, 0x62]
        let payload = RawGGUF.le(GGUFValueType.string.rawValue) + RawGGUF.le(UInt64(2))
            + RawGGUF.le(UInt64(raw.count)) + raw + RawGGUF.le(UInt64(1)) + [0x63]
        var builder = RawGGUF()
        builder.keyValues = [RawGGUF.keyValue("toks", type: GGUFValueType.array.rawValue, payload: payload)]
        let array = try GGUFFile(bytes: builder.bytes).metadata.array("toks")
        #expect(array.strings() == ["a\u{FFFD}b", "c"])
        var exact: [[UInt8]] = []
        array.forEachStringBytes { exact.append(Array($0)) }
        #expect(exact == [raw, [0x63]])
    }
}

import Testing
@testable import GGUF

@Suite("Typed metadata lookups")
struct MetadataLookupTests {
    static func metadata() throws -> GGUFMetadata {
        var writer = try GGUFWriter()
        try writer.set("count.u32", .uint32(30))
        try writer.set("count.i32", .int32(30))
        try writer.set("count.u64", .uint64(30))
        try writer.set("big", .uint64(5_000_000_000))
        try writer.set("negative", .int32(-1))
        try writer.set("eps", .float32(1e-5))
        try writer.set("theta", .float64(10_000))
        try writer.set("name", .string("llama"))
        try writer.set("flag", .bool(true))
        try writer.set("ids", .array(GGUFArray([UInt32(1), 2, 3])))
        try writer.set("wide.ids", .array(GGUFArray([Int64(1), 5_000_000_000])))
        return try GGUFFile(bytes: writer.serialized()).metadata
    }

    @Test("integers of any stored width read as the requested type", arguments: ["count.u32", "count.i32", "count.u64"])
    func integerWidths(key: String) throws {
        let meta = try Self.metadata()
        #expect(try meta.uint32(key) == 30)
        #expect(try meta.int(key) == 30)
        #expect(try meta.integer(key, as: Int8.self) == 30)
    }

    @Test("scalar lookups return the stored values")
    func scalars() throws {
        let meta = try Self.metadata()
        #expect(try meta.float("eps") == 1e-5)
        #expect(try meta.float("theta") == 10_000)
        #expect(try meta.string("name") == "llama")
        #expect(try meta.bool("flag"))
        #expect(try meta.integers("ids") == [1, 2, 3])
        #expect(try meta.int32s("ids") == [1, 2, 3])
        #expect(try meta.intIfPresent("absent") == nil)
        #expect(try meta.stringsIfPresent("absent") == nil)
    }

    @Test("failed lookups say what was wrong and name the key", arguments: failingLookups)
    func failures(_ lookup: FailingLookup) throws {
        let meta = try Self.metadata()
        let error = #expect(throws: GGUFError.self) { try lookup.run(meta) }
        #expect(error?.kind == lookup.kind)
        #expect(error?.message.contains("'\(lookup.key)'") == true, "\(String(describing: error))")
    }
}

/// A lookup expected to fail: the key it names and the kind of failure.
struct FailingLookup: Sendable, CustomTestStringConvertible {
    var key: String
    var kind: GGUFError.Kind
    var call: String
    var run: @Sendable (GGUFMetadata) throws -> Void
    var testDescription: String { "\(call) on '\(key)'" }
}

let failingLookups: [FailingLookup] = [
    FailingLookup(key: "absent", kind: .missingKey, call: "uint32") { _ = try $0.uint32("absent") },
    FailingLookup(key: "big", kind: .valueOutOfRange, call: "uint32") { _ = try $0.uint32("big") },
    FailingLookup(key: "negative", kind: .valueOutOfRange, call: "UInt64") { _ = try $0.integer("negative", as: UInt64.self) },
    FailingLookup(key: "name", kind: .typeMismatch, call: "int") { _ = try $0.int("name") },
    FailingLookup(key: "name", kind: .typeMismatch, call: "intIfPresent") { _ = try $0.intIfPresent("name") },
    FailingLookup(key: "count.u32", kind: .typeMismatch, call: "string") { _ = try $0.string("count.u32") },
    FailingLookup(key: "eps", kind: .typeMismatch, call: "bool") { _ = try $0.bool("eps") },
    FailingLookup(key: "flag", kind: .typeMismatch, call: "float") { _ = try $0.float("flag") },
    FailingLookup(key: "ids", kind: .typeMismatch, call: "strings") { _ = try $0.strings("ids") },
    FailingLookup(key: "ids", kind: .typeMismatch, call: "floats") { _ = try $0.floats("ids") },
    FailingLookup(key: "name", kind: .typeMismatch, call: "strings") { _ = try $0.strings("name") },
    FailingLookup(key: "wide.ids", kind: .valueOutOfRange, call: "int32s") { _ = try $0.int32s("wide.ids") },
]

@Suite("Writer refuses bad input")
struct WriterErrorTests {
    @Test("bad alignments are refused", arguments: [0, -8, 3, 48])
    func badAlignment(_ alignment: Int) {
        let error = #expect(throws: GGUFError.self) { _ = try GGUFWriter(alignment: alignment) }
        #expect(error?.kind == .invalidAlignment)
    }

    @Test("duplicate keys, duplicate tensors, bad shapes and wrong sizes are refused")
    func refusals() throws {
        var writer = try GGUFWriter()
        try writer.set("k", .uint8(1))
        try writer.addTensor(name: "t", shape: [2], floats: [1, 2])
        let cases: [(GGUFError.Kind, () throws -> Void)] = [
            (.duplicateKey, { try writer.set("k", .uint8(2)) }),
            (.invalidKey, { try writer.set("", .uint8(2)) }),
            (.invalidAlignment, { try writer.set("general.alignment", .uint32(64)) }),
            (.duplicateTensor, { try writer.addTensor(name: "t", shape: [1], floats: [1]) }),
            (.invalidKey, { try writer.addTensor(name: String(repeating: "n", count: 64), shape: [1], floats: [1]) }),
            (.invalidShape, { try writer.addTensor(name: "z", shape: [0], floats: []) }),
            (.invalidShape, { try writer.addTensor(name: "d", shape: [1, 1, 1, 1, 1], floats: [1]) }),
            (.invalidShape, { try writer.addTensor(name: "q", shape: [16], type: .q4_0, bytes: []) }),
            (.dataSizeMismatch, { try writer.addTensor(name: "s", shape: [3], floats: [1, 2]) }),
        ]
        for (kind, action) in cases {
            let error = #expect(throws: GGUFError.self) { try action() }
            #expect(error?.kind == kind, "\(String(describing: error))")
        }
    }

    @Test("a producer that writes the wrong number of bytes fails the write", arguments: [3, 5])
    func producerSize(floats: Int) throws {
        var writer = try GGUFWriter()
        try writer.addTensor(name: "p", shape: [4], type: .f32) { emit in
            let values = [Float](repeating: 1, count: floats)
            try values.withUnsafeBytes { try emit($0) }
        }
        let error = #expect(throws: GGUFError.self) { _ = try writer.serialized() }
        #expect(error?.kind == .dataSizeMismatch)
        #expect(error?.message.contains("'p'") == true)
    }
}

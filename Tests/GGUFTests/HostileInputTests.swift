import Testing
@testable import GGUF

/// One malformed file: what it is, its bytes, the failure expected and a
/// piece of text the message must contain (the key, tensor or value named).
struct HostileCase: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var kind: GGUFError.Kind
    var mentions: String
    var testDescription: String { name }
}

private typealias R = RawGGUF
private let f32 = GGMLType.f32.rawValue

private func file(_ configure: (inout RawGGUF) -> Void) -> [UInt8] {
    var raw = RawGGUF()
    configure(&raw)
    return raw.bytes
}

private let oneTensorData = [UInt8](repeating: 0, count: 32)

let hostileCases: [HostileCase] = [
    HostileCase(name: "bad magic", bytes: file { $0.magic = Array("GGML".utf8) }, kind: .badMagic, mentions: "GGUF"),
    HostileCase(name: "version 1", bytes: file { $0.version = 1 }, kind: .unsupportedVersion, mentions: "version 1"),
    HostileCase(name: "version 4", bytes: file { $0.version = 4 }, kind: .unsupportedVersion, mentions: "version 4"),
    HostileCase(name: "big-endian file", bytes: file { $0.version = UInt32(3).byteSwapped },
                kind: .unsupportedVersion, mentions: "big-endian"),
    HostileCase(name: "empty file", bytes: [], kind: .truncated, mentions: "magic"),
    HostileCase(name: "huge key count", bytes: file { $0.keyCount = .max }, kind: .truncated, mentions: "key count"),
    HostileCase(name: "huge tensor count", bytes: file { $0.tensorCount = 1 << 40 }, kind: .truncated, mentions: "tensor count"),
    HostileCase(name: "huge key length", bytes: file {
        $0.keyValues = [R.le(UInt64(1) << 62) + Array("a key and some more bytes".utf8)]
    }, kind: .truncated, mentions: "length"),
    HostileCase(name: "huge string value length", bytes: file {
        $0.keyValues = [R.keyValue("s", type: 8, payload: R.le(UInt64.max) + [1, 2, 3])]
    }, kind: .truncated, mentions: "'s'"),
    HostileCase(name: "huge array count", bytes: file {
        $0.keyValues = [R.keyValue("arr", type: 9, payload: R.le(UInt32(4)) + R.le(UInt64(1) << 61))]
    }, kind: .truncated, mentions: "'arr'"),
    HostileCase(name: "string array longer than the file", bytes: file {
        $0.keyValues = [R.keyValue("toks", type: 9, payload: R.le(UInt32(8)) + R.le(UInt64(3)) + R.le(UInt64(1)) + [65]
                                          + R.le(UInt64(100)) + [UInt8](repeating: 0, count: 10))]
    }, kind: .truncated, mentions: "element 1 of key 'toks'"),
    HostileCase(name: "unknown value type", bytes: file {
        $0.keyValues = [R.keyValue("weird", type: 13, payload: [0, 0, 0, 0])]
    }, kind: .invalidValueType, mentions: "'weird'"),
    HostileCase(name: "unknown array element type", bytes: file {
        $0.keyValues = [R.keyValue("weird.arr", type: 9, payload: R.le(UInt32(99)) + R.le(UInt64(0)))]
    }, kind: .invalidValueType, mentions: "'weird.arr'"),
    HostileCase(name: "arrays nested too deep", bytes: file {
        let header = R.le(UInt32(9)) + R.le(UInt64(1))
        let payload = Array((0..<6).map { _ in header }.joined()) + R.le(UInt32(0)) + R.le(UInt64(0))
        $0.keyValues = [R.keyValue("deep", type: 9, payload: payload)]
    }, kind: .invalidValueType, mentions: "'deep'"),
    HostileCase(name: "bool stored as 2", bytes: file {
        $0.keyValues = [R.keyValue("flag", type: 7, payload: [2])]
    }, kind: .invalidValue, mentions: "'flag'"),
    HostileCase(name: "empty key", bytes: file {
        $0.keyValues = [R.keyValue("", .uint8(1))]
    }, kind: .invalidKey, mentions: "key #0"),
    HostileCase(name: "duplicate key", bytes: file {
        $0.keyValues = [R.keyValue("dup", .uint8(1)), R.keyValue("dup", .string("x"))]
    }, kind: .duplicateKey, mentions: "'dup'"),
    HostileCase(name: "alignment zero", bytes: file {
        $0.keyValues = [R.keyValue("general.alignment", .uint32(0))]
    }, kind: .invalidAlignment, mentions: "general.alignment"),
    HostileCase(name: "alignment not a power of two", bytes: file {
        $0.keyValues = [R.keyValue("general.alignment", .uint32(48))]
    }, kind: .invalidAlignment, mentions: "48"),
    HostileCase(name: "alignment as a string", bytes: file {
        $0.keyValues = [R.keyValue("general.alignment", .string("32"))]
    }, kind: .invalidAlignment, mentions: "string"),
    HostileCase(name: "too many dimensions", bytes: file {
        $0.tensorInfos = [R.tensorInfo("t5", dims: [1, 1, 1, 1, 1])]
    }, kind: .invalidShape, mentions: "'t5'"),
    HostileCase(name: "zero dimensions", bytes: file {
        $0.tensorInfos = [R.tensorInfo("t0", dims: [])]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "'t0'"),
    HostileCase(name: "huge dimension count", bytes: file {
        $0.tensorInfos = [R.tensorInfo("tn", dims: [1], dimensionCount: .max)]
    }, kind: .invalidShape, mentions: "'tn'"),
    HostileCase(name: "dimension of size zero", bytes: file {
        $0.tensorInfos = [R.tensorInfo("empty", dims: [4, 0])]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "'empty'"),
    HostileCase(name: "negative dimension", bytes: file {
        $0.tensorInfos = [R.tensorInfo("neg", dims: [UInt64(bitPattern: -4)])]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "'neg'"),
    HostileCase(name: "element count overflows", bytes: file {
        $0.tensorInfos = [R.tensorInfo("huge", dims: [1 << 32, 1 << 32])]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "'huge'"),
    HostileCase(name: "byte count overflows", bytes: file {
        $0.tensorInfos = [R.tensorInfo("bytes", dims: [1 << 31, 1 << 31])]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "takes more bytes"),
    HostileCase(name: "row not whole blocks", bytes: file {
        $0.tensorInfos = [R.tensorInfo("q", dims: [16, 2], type: GGMLType.q4_0.rawValue)]; $0.data = oneTensorData
    }, kind: .invalidShape, mentions: "'q'"),
    HostileCase(name: "unknown tensor type", bytes: file {
        $0.tensorInfos = [R.tensorInfo("odd", dims: [8], type: 4)]; $0.data = oneTensorData
    }, kind: .invalidTensorType, mentions: "'odd'"),
    HostileCase(name: "tensor data past the end", bytes: file {
        $0.tensorInfos = [R.tensorInfo("long", dims: [9])]; $0.data = oneTensorData
    }, kind: .tensorOutOfBounds, mentions: "'long'"),
    HostileCase(name: "tensor offset past the end", bytes: file {
        $0.tensorInfos = [R.tensorInfo("far", dims: [8], offset: 64)]; $0.data = oneTensorData
    }, kind: .tensorOutOfBounds, mentions: "'far'"),
    HostileCase(name: "tensor offset overflows", bytes: file {
        $0.tensorInfos = [R.tensorInfo("wrap", dims: [8], offset: UInt64.max - 31)]; $0.data = oneTensorData
    }, kind: .tensorOutOfBounds, mentions: "'wrap'"),
    HostileCase(name: "misaligned tensor offset", bytes: file {
        $0.tensorInfos = [R.tensorInfo("mis", dims: [4], offset: 4)]; $0.data = oneTensorData
    }, kind: .misalignedTensor, mentions: "'mis'"),
    HostileCase(name: "duplicate tensor", bytes: file {
        $0.tensorInfos = [R.tensorInfo("w", dims: [4]), R.tensorInfo("w", dims: [4])]; $0.data = oneTensorData
    }, kind: .duplicateTensor, mentions: "'w'"),
]

@Suite("Hostile input is refused with a named error")
struct HostileInputTests {
    @Test("malformed files are refused", arguments: hostileCases)
    func refused(_ testCase: HostileCase) {
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(bytes: testCase.bytes) }
        #expect(error?.kind == testCase.kind, "\(String(describing: error))")
        #expect(error?.message.contains(testCase.mentions) == true, "\(String(describing: error))")
    }

    @Test("the hand-built files are otherwise valid: a good tensor in the same frame loads")
    func frameIsValid() throws {
        let bytes = file {
            $0.keyValues = [R.keyValue("general.alignment", .uint32(32))]
            $0.tensorInfos = [R.tensorInfo("ok", dims: [4, 2], offset: 0)]
            $0.data = oneTensorData
        }
        let loaded = try GGUFFile(bytes: bytes)
        #expect(loaded.tensors.map(\.name) == ["ok"])
    }

    @Test("every truncation of a valid file is refused as truncated or out of bounds")
    func everyTruncation() throws {
        let full = try sampleFile()
        _ = try GGUFFile(bytes: full)
        for length in 0..<full.count {
            let error = #expect(throws: GGUFError.self, "prefix of \(length) bytes") {
                _ = try GGUFFile(bytes: Array(full[0..<length]))
            }
            #expect(error?.kind == .truncated || error?.kind == .tensorOutOfBounds, "\(String(describing: error))")
        }
    }

    @Test("a missing or unreadable path is an I/O error naming the path", arguments: ["/nonexistent/x.gguf", "/tmp"])
    func badPath(_ path: String) {
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.kind == .io)
        #expect(error?.message.contains(path) == true)
    }

    @Test("random byte flips and truncations never crash the reader")
    func fuzz() throws {
        let original = try sampleFile()
        var rng = SeededGenerator(seed: 0x5EED)
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                // Mostly small damage, sometimes a byte that makes lengths huge.
                bytes[index] = Bool.random(using: &rng) ? bytes[index] ^ (1 << UInt8.random(in: 0...7, using: &rng))
                                                        : UInt8.random(in: 0...255, using: &rng)
            }
            if Int.random(in: 0..<4, using: &rng) == 0 {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng))
            }
            do {
                let file = try GGUFFile(bytes: bytes)
                // Whatever loaded must be usable without crashing.
                for tensor in file.tensors { _ = file.data(of: tensor).reduce(0, &+) }
                for (_, value) in file.metadata { if case .array(let a) = value { _ = a.values() } }
                accepted += 1
            } catch is GGUFError {
                // Refusing is fine; any other error type would fail the test.
            }
        }
        #expect(accepted < 3000)
    }
}

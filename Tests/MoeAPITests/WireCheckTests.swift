import Testing
import MoeAPI

/// Hostile bytes protobuf-c would accept silently: NUL bytes inside strings
/// (it hands strings over as C strings, cut at the NUL) and uint32 varints
/// past 2^32 (it keeps the low 32 bits).
@Suite("Wire checks while decoding")
struct WireCheckTests {
    /// `request` serialized, with the marker "\u{1}\u{2}\u{3}" in one of
    /// its strings turned into "\u{1}\0\u{3}". The length does not change,
    /// so the protobuf stays well formed.
    static func withNUL(_ request: Request) throws -> [UInt8] {
        var bytes = request.serialized()
        let marker = try #require(Self.index(of: [1, 2, 3], in: bytes))
        bytes[marker + 1] = 0
        return bytes
    }

    static func generate(_ change: (inout GenerateRequest) -> Void) -> Request {
        var g = GenerateRequest()
        g.prompt = "hello"
        change(&g)
        return Request(id: 7, call: .generate(g))
    }

    static let withMarkedStrings: [(String, Request)] = [
        ("generate.prompt", generate { $0.prompt = "safe\u{1}\u{2}\u{3}ignore the rest" }),
        ("generate.tier", generate { $0.tier = "haiku\u{1}\u{2}\u{3}" }),
        ("generate.stop[1]", generate { $0.stop = ["END", "a\u{1}\u{2}\u{3}b"] }),
        ("generate.messages[1].content", generate { $0.messages = [.init(role: "user", content: "hi"), .init(role: "user", content: "x\u{1}\u{2}\u{3}y")] }),
        ("generate.messages[0].role", generate { $0.messages = [.init(role: "us\u{1}\u{2}\u{3}er", content: "hi")] }),
        ("tokenize.text", Request(id: 7, call: .tokenize({ var t = TokenizeRequest(); t.text = "ab\u{1}\u{2}\u{3}cd"; return t }()))),
        ("load.tier", Request(id: 7, call: .load(tier: "opus\u{1}\u{2}\u{3}"))),
        ("use.tier", Request(id: 7, call: .use(tier: "\u{1}\u{2}\u{3}"))),
        ("unload.tier", Request(id: 7, call: .unload(tier: "x\u{1}\u{2}\u{3}"))),
    ]

    @Test("a NUL byte in any string field is refused naming the field and the request id",
          arguments: withMarkedStrings)
    func nulRefused(field: String, request: Request) throws {
        let bytes = try Self.withNUL(request)
        let error = try #require(throws: DecodingError.self) { try Request(serialized: bytes) }
        #expect(error.message == "\(field) contains a NUL byte")
        #expect(error.requestID == 7)
    }

    @Test("a max_tokens varint past 2^32 is refused, not wrapped to its low 32 bits")
    func maxTokensDoesNotWrap() throws {
        // 2^28 + 5 takes five varint bytes; turning the last 0x01 into 0x10
        // makes it 2^32 + 5, which protobuf-c would read as 5.
        var bytes = Self.generate { $0.maxTokens = (1 << 28) + 5 }.serialized()
        let start = try #require(Self.index(of: [0x30, 0x85, 0x80, 0x80, 0x80, 0x01], in: bytes))
        bytes[start + 5] = 0x10
        let error = try #require(throws: DecodingError.self) { try Request(serialized: bytes) }
        #expect(error.message == "generate.max_tokens = 4294967301 does not fit in 32 bits")
        #expect(error.requestID == 7)
    }

    @Test("a top_k varint past 2^32 inside sampling is refused naming the nested field")
    func nestedVarint() throws {
        var bytes = Self.generate { $0.sampling.topK = (1 << 28) + 5 }.serialized()
        let start = try #require(Self.index(of: [0x10, 0x85, 0x80, 0x80, 0x80, 0x01], in: bytes))
        bytes[start + 5] = 0x10
        let error = try #require(throws: DecodingError.self) { try Request(serialized: bytes) }
        #expect(error.message == "generate.sampling.top_k = 4294967301 does not fit in 32 bits")
    }

    @Test("the largest uint32 and strings with every other byte value decode unchanged")
    func legalValuesPass() throws {
        let all = String(decoding: (1...0x7F).map { UInt8($0) }, as: UTF8.self) + "é✓🙂"
        let request = Self.generate {
            $0.maxTokens = .max
            $0.prompt = all
            $0.stop = [all]
            $0.sampling.topK = .max
        }
        #expect(try Request(serialized: request.serialized()) == request)
    }

    static func index(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle }
    }
}

import Foundation
import Testing
import MoeAPI
import MoeClient

/// Requests are checked like the config, through a real moed: NUL bytes,
/// 32-bit overflow, sampling ranges and stop-string limits are refused
/// with INVALID_ARGUMENT naming the field, and the daemon keeps serving.
@Suite("Request validation end to end", .serialized)
struct ValidationTests {
    /// The error of the call's final answer; fails the test if there is none.
    static func refusal(_ client: MoeClient, id: UInt64) throws -> RemoteError {
        while true {
            let response = try client.receive()
            guard response.id == id, response.isFinal else { continue }
            return try #require(response.error, "call \(id) was accepted")
        }
    }

    static func generateFrame(id: UInt64, _ change: (inout GenerateRequest) -> Void) -> [UInt8] {
        var request = GenerateRequest()
        request.prompt = "abc"
        request.maxTokens = 4
        change(&request)
        return Request(id: id, call: .generate(request)).serialized()
    }

    static func replacing(_ needle: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) throws -> [UInt8] {
        let start = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle })
        var patched = bytes
        patched.replaceSubrange(start..<start + needle.count, with: replacement)
        return patched
    }

    @Test("a NUL byte in a prompt is refused naming the field; the same connection keeps serving")
    func nulInPrompt() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        let frame = try Self.replacing([1, 2, 3], with: [1, 0, 3],
                                       in: Self.generateFrame(id: 41) { $0.prompt = "safe\u{1}\u{2}\u{3}secret" })
        try client.write(Framing.frame(frame))
        let error = try Self.refusal(client, id: 41)
        #expect(error.code == .invalidArgument)
        #expect(error.message == "generate.prompt contains a NUL byte")
        guard case .status = try client.call(.status).result else { throw E2EError("no status after the refusal") }
        #expect(try generate(client, prompt: "ok").text == toyContinuation(promptBytes: 2, count: 8))
        #expect(daemon.stop() == 0)
    }

    @Test("max_tokens 2^32 + 5 is refused, not run as 5 tokens")
    func maxTokensOverflow() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        // 2^28 + 5 is a five-byte varint; a last byte of 0x10 makes it 2^32 + 5.
        let frame = try Self.replacing([0x30, 0x85, 0x80, 0x80, 0x80, 0x01], with: [0x30, 0x85, 0x80, 0x80, 0x80, 0x10],
                                       in: Self.generateFrame(id: 5) { $0.maxTokens = (1 << 28) + 5 })
        try client.write(Framing.frame(frame))
        let error = try Self.refusal(client, id: 5)
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("generate.max_tokens"))
        #expect(daemon.stop() == 0)
    }

    @Test("NaN temperature, negative top_p and repeat_penalty 0 are refused naming the field", arguments: [
        ("generate.sampling.temperature", { (r: inout GenerateRequest) in r.sampling.temperature = .nan }),
        ("generate.sampling.top_p", { (r: inout GenerateRequest) in r.sampling.topP = -1 }),
        ("generate.sampling.repeat_penalty", { (r: inout GenerateRequest) in r.sampling.repeatPenalty = 0 }),
        ("generate.max_tokens", { (r: inout GenerateRequest) in r.maxTokens = 2_000_000 }),
    ] as [(String, @Sendable (inout GenerateRequest) -> Void)])
    func samplingRanges(field: String, change: @Sendable (inout GenerateRequest) -> Void) throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        try client.write(Framing.frame(Self.generateFrame(id: 3, change)))
        let error = try Self.refusal(client, id: 3)
        #expect(error.code == .invalidArgument)
        #expect(error.message.hasPrefix(field + ": "), "\(error.message)")
        #expect(daemon.stop() == 0)
    }

    @Test("a schema or grammar moed cannot promise is refused before generation, naming what and where", arguments: [
        ("generate.json_schema: JSON Schema feature 'pattern' is not supported (at #/properties/id)",
         { (r: inout GenerateRequest) in r.jsonSchema = #"{"type":"object","properties":{"id":{"type":"string","pattern":"^a"}}}"# }),
        ("generate.json_schema: invalid JSON Schema: not JSON",
         { (r: inout GenerateRequest) in r.jsonSchema = "{" }),
        ("generate.grammar: grammar line 2, column 9: unterminated string literal",
         { (r: inout GenerateRequest) in r.grammar = "root ::= a\na ::= \"x" }),
        ("generate.grammar: grammar rule 'root' can repeat without consuming input",
         { (r: inout GenerateRequest) in r.grammar = "root ::= root \"x\" | \"y\"" }),
        ("generate.grammar: give json_schema or grammar, not both",
         { (r: inout GenerateRequest) in r.grammar = "root ::= \"x\""; r.jsonSchema = "{}" }),
        ("generate.grammar: grammar too large: grammar of 65537 bytes",
         { (r: inout GenerateRequest) in r.grammar = String(repeating: "#", count: 65_537) }),
    ] as [(String, @Sendable (inout GenerateRequest) -> Void)])
    func structuredOutputRefusals(expected: String, change: @Sendable (inout GenerateRequest) -> Void) throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let client = try daemon.client()
        try client.write(Framing.frame(Self.generateFrame(id: 4, change)))
        let error = try Self.refusal(client, id: 4)
        #expect(error.code == .invalidArgument)
        #expect(error.message.hasPrefix(expected), "\(error.message)")
        #expect(daemon.stop() == 0)
    }

    @Test("10,000 stop strings of 1,000 bytes are refused naming the limit; another client's status is answered")
    func stopStringFlood() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let flooder = try daemon.client()
        let flood = Self.generateFrame(id: 1) {
            $0.stop = (0..<10_000).map { String(repeating: "\($0 % 10)", count: 1_000) }
            $0.maxTokens = 200
        }
        try flooder.write(Framing.frame(flood))
        guard case .status = try daemon.client().call(.status).result else { throw E2EError("no status") }
        let error = try Self.refusal(flooder, id: 1)
        #expect(error.code == .invalidArgument)
        #expect(error.message == "generate.stop: 10000 stop strings, more than the limit of 64")
        // At the limits, a stop string split over the toy's tokens still stops the stream.
        var request = GenerateRequest()
        request.prompt = "abc"
        request.maxTokens = 40
        request.stop = Array(repeating: String(repeating: "q", count: 63), count: 63) + ["toy"]
        var text = ""
        let final = try flooder.call(.generate(request)) { response in
            if case .chunk(let chunk) = response.result { text += chunk.text }
        }
        guard case .summary(let summary) = final.result else { throw E2EError("no summary") }
        #expect(summary.finishReason == "stop_string")
        #expect(text == toyContinuation(promptBytes: 3, count: 11))
        #expect(daemon.stop() == 0)
    }
}

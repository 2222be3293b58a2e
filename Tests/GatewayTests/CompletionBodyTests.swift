import Foundation
import Hummingbird
import Testing
import MoeAPI
@testable import Gateway

@Suite("OpenAI request bodies to moed requests")
struct CompletionBodyTests {
    func body(_ json: String) throws(OpenAIError) -> CompletionBody {
        try CompletionHandler.decode(ByteBuffer(string: json))
    }

    @Test("chat fields map to moed's: model is the tier, max_tokens, sampling, stop, seed")
    func chat() throws {
        let request = try body("""
            {"model":"haiku","messages":[{"role":"system","content":"be brief"},
             {"role":"assistant","content":null},{"role":"tool"},
             {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],
             "max_tokens":7,"temperature":0.5,"top_p":0.9,"seed":42,"stop":"END","stream":true,"user":"x"}
            """).generateRequest(chat: true)
        #expect(request.tier == "haiku")
        #expect(request.messages == [ChatMessage(role: "system", content: "be brief"), ChatMessage(role: "assistant", content: ""),
                                     ChatMessage(role: "tool", content: ""), ChatMessage(role: "user", content: "hi there")])
        #expect(request.maxTokens == 7)
        #expect(request.sampling.temperature == 0.5)
        #expect(request.sampling.topP == 0.9)
        #expect(request.sampling.seed == 42)
        #expect(request.stop == ["END"])
    }

    @Test("a completion prompt is one string or a list of one; stop may be a list")
    func completion() throws {
        #expect(try body(#"{"model":"m","prompt":"abc"}"#).generateRequest(chat: false).prompt == "abc")
        let listed = try body(#"{"model":"m","prompt":["abc"],"stop":["a","b"],"max_completion_tokens":3}"#).generateRequest(chat: false)
        #expect(listed.prompt == "abc")
        #expect(listed.stop == ["a", "b"])
        #expect(listed.maxTokens == 3)
    }

    @Test("bad bodies are OpenAI invalid_request_errors naming the problem", arguments: [
        "{not json", #"{"model":"m"}"#, #"{"messages":[{"role":"user","content":"x"}]}"#,
        #"{"model":"m","messages":[]}"#, #"{"model":"m","messages":"x"}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":3}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a"}}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":[1]}}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":"json"}"#,
        #"{"model":"m","messages":[{"role":"user","content":5}]}"#,
        #"{"model":"m","messages":[{"role":"banana","content":"x"}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":{"text":"x"}}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
    ])
    func refused(_ json: String) {
        do {
            _ = try body(json).generateRequest(chat: true)
            Issue.record("accepted \(json)")
        } catch let error as OpenAIError {
            #expect(error.status == .badRequest)
            #expect(error.type == "invalid_request_error")
            #expect(!error.message.isEmpty)
        } catch {
            Issue.record("not an OpenAIError: \(error)")
        }
    }

    @Test("logprobs: chat takes true and top_logprobs, completions a count; none unless asked")
    func logprobs() throws {
        let chat = #"{"model":"m","messages":[{"role":"user","content":"x"}]"#
        #expect(try body(chat + "}").generateRequest(chat: true).logprobs == nil)
        #expect(try body(chat + #","logprobs":false}"#).generateRequest(chat: true).logprobs == nil)
        #expect(try body(chat + #","logprobs":true}"#).generateRequest(chat: true).logprobs == 0)
        #expect(try body(chat + #","logprobs":true,"top_logprobs":20}"#).generateRequest(chat: true).logprobs == 20)
        #expect(try body(#"{"model":"m","prompt":"a","logprobs":3}"#).generateRequest(chat: false).logprobs == 3)
        #expect(throws: OpenAIError.self) { try body(#"{"model":"m","prompt":"a","logprobs":true}"#).generateRequest(chat: false) }
    }

    @Test("response_format becomes moed's JSON Schema text with the schema's key order kept")
    func responseFormat() throws {
        let chat = #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":"#
        #expect(try body(chat + #"{"type":"text"}}"#).generateRequest(chat: true).jsonSchema == nil)
        #expect(try body(chat + #"{"type":"json_object"}}"#).generateRequest(chat: true).jsonSchema == #"{"type":"object"}"#)
        let schema = #"{"type":"object","properties":{"zeta":{"type":"integer","minimum":1.50},"alpha":{"type":"string"}},"required":["zeta"]}"#
        let request = try body(chat + #"{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":"# + schema + "}}}")
            .generateRequest(chat: true)
        #expect(request.jsonSchema == schema)
    }

    @Test("completion logprobs: text offsets count Unicode scalars, a character split across tokens once")
    func textOffsets() {
        typealias Entry = GenerateChunk.TokenLogprob
        let pieces: [[UInt8]] = [Array("a".utf8), [0xC3], [0xA9, 0x62], Array(" cd".utf8), Array("e".utf8)]
        var offsets = TextOffsets()
        let first = CompletionLogprobs(pieces.prefix(2).map { Entry(token: 1, logprob: -0.5, piece: $0) }, offsets: &offsets)
        let second = CompletionLogprobs(pieces.dropFirst(2).map { Entry(token: 1, logprob: -.infinity, piece: $0) }, offsets: &offsets)
        #expect(first.textOffset + second.textOffset == [0, 1, 2, 3, 6])  // "a", "é" split, "b", " cd", "e"
        #expect(second.tokenLogprobs.allSatisfy { $0 == -9999 })
    }
}

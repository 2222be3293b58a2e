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
             {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],
             "max_tokens":7,"temperature":0.5,"top_p":0.9,"seed":42,"stop":"END","stream":true,"user":"x"}
            """).generateRequest(chat: true)
        #expect(request.tier == "haiku")
        #expect(request.messages == [ChatMessage(role: "system", content: "be brief"), ChatMessage(role: "user", content: "hi there")])
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
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true}"#,
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
}

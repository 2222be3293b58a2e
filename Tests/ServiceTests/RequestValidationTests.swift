import Testing
import GenerationCore
import MoeAPI
@testable import Service

/// A generate request's settings are checked at the boundary against the
/// config's own ranges, and refused with INVALID_ARGUMENT naming the field.
@Suite("Request validation")
struct RequestValidationTests {
    static func request(_ change: (inout GenerateRequest) -> Void) -> GenerateRequest {
        var request = GenerateRequest()
        request.prompt = "ab"
        request.maxTokens = 3
        change(&request)
        return request
    }

    static let refused: [(String, GenerateRequest)] = [
        ("generate.sampling.temperature", request { $0.sampling.temperature = .nan }),
        ("generate.sampling.temperature", request { $0.sampling.temperature = -1 }),
        ("generate.sampling.temperature", request { $0.sampling.temperature = .infinity }),
        ("generate.sampling.top_p", request { $0.sampling.topP = .nan }),
        ("generate.sampling.top_p", request { $0.sampling.topP = -0.5 }),
        ("generate.sampling.min_p", request { $0.sampling.minP = -.infinity }),
        ("generate.sampling.min_p", request { $0.sampling.minP = 2 }),
        ("generate.sampling.repeat_penalty", request { $0.sampling.repeatPenalty = 0 }),
        ("generate.sampling.top_k", request { $0.sampling.topK = .max }),
        ("generate.sampling.repeat_last_n", request { $0.sampling.repeatLastN = 1_000_001 }),
        ("generate.max_tokens", request { $0.maxTokens = 1_000_001 }),
        ("generate.stop", request { $0.stop = Array(repeating: "x", count: 65) }),
        ("generate.stop", request { $0.stop = [String(repeating: "ü", count: 2049)] }),
    ]

    @Test("out-of-range settings are refused with INVALID_ARGUMENT naming the field; nothing is queued",
          arguments: refused)
    func refusedSettings(field: String, request: GenerateRequest) throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.scheduler.generate(request, id: 9, sink: sink)
        let final = try #require(sink.final(of: 9))
        let error = try #require(final.error)
        #expect(error.code == .invalidArgument)
        #expect(error.message.hasPrefix(field + ": "), "\(error.message)")
        #expect(h.backends.opened.isEmpty, "a refused request loads nothing")
    }

    @Test("settings at the edges of their ranges are accepted and generate")
    func edgesAccepted() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        let request = Self.request {
            $0.sampling.temperature = 0
            $0.sampling.topP = 1
            $0.sampling.minP = 0
            $0.sampling.repeatPenalty = 0.01
            $0.sampling.topK = 1_000_000
            $0.stop = Array(repeating: String(repeating: "z", count: 64), count: 64)
        }
        h.scheduler.generate(request, id: 1, sink: sink)
        h.executor.settle()
        let final = try #require(sink.final(of: 1))
        #expect(final.error == nil)
        #expect(sink.text(of: 1) == "def")
    }

    @Test("a request and the config refuse the same value with the same words")
    func sameWordsAsConfig() throws {
        let h = try Harness(Harness.twoTiers)
        let sink = CollectingSink()
        h.scheduler.generate(Self.request { $0.sampling.topP = 1.5 }, id: 1, sink: sink)
        let requestError = try #require(sink.final(of: 1)?.error)
        let configError = try #require(ConfigLimitsTests.refusal(ConfigLimitsTests.tier("top_p = 1.5")))
        #expect(requestError.message == "generate.sampling.top_p: \(configError.message)")
    }
}

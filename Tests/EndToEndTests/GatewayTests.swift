import Foundation
import Testing
import TestSupport

/// moegate in front of a real moed (toy plugin), driven by OpenAI's own
/// Python client, Prometheus' own parser and curl.
@Suite("moegate: OpenAI's HTTP API and /metrics over moed", .serialized)
struct GatewayTests {
    static let python = Testing.ConditionTrait.enabled(if: GatewayPython.isAvailable,
        "skipped: needs .venv with openai and prometheus_client (scripts/install-deps.sh installs them)")

    @Test("openai's client lists tiers, completes and streams, and gets errors in OpenAI's shape", python)
    func openAIClient() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let seen = try GatewayPython.check("api", gateway: gateway)
        #expect(seen["models"] as? [String] == ["haiku", "opus"])
        let chat = try #require(seen["chat"] as? [String: Any])
        #expect(chat["object"] as? String == "chat.completion")
        #expect(chat["finish"] as? String == "length")
        #expect(chat["completion_tokens"] as? Int == 6)
        #expect((chat["text"] as? String)?.count == 6)
        let chatStream = try #require(seen["chat_stream"] as? [String: Any])
        #expect(chatStream["text"] as? String == chat["text"] as? String)
        #expect(chatStream["finish"] as? [String] == ["length"])
        #expect(chatStream["usage"] as? Int == 6)
        let completion = try #require(seen["completion"] as? [String: Any])
        #expect(completion["text"] as? String == toyContinuation(promptBytes: 3, count: 5))
        #expect(completion["object"] as? String == "text_completion")
        #expect(seen["completion_stream"] as? String == toyContinuation(promptBytes: 3, count: 5))
        let stop = try #require(seen["stop"] as? [String: Any])
        #expect(stop["text"] as? String == "o from the ")  // the toy recites from text[4]; "toy" ends it
        #expect(stop["finish"] as? String == "stop")
        let unknown = try #require(seen["unknown_model"] as? [String: Any], "\(seen["unknown_model"] ?? "nil")")
        #expect(unknown["status"] as? Int == 404)
        #expect(unknown["code"] as? String == "model_not_found")
        #expect(unknown["param"] as? String == "model")
        let badTopP = try #require(seen["bad_top_p"] as? [String: Any], "\(seen["bad_top_p"] ?? "nil")")
        #expect(badTopP["status"] as? Int == 400)
        #expect((badTopP["message"] as? String)?.contains("top_p") == true)
        let malformed = try #require(seen["malformed"] as? [String: Any])
        #expect(malformed["status"] as? Int == 400)
        let shape = try #require(malformed["error"] as? [String: Any], "not OpenAI's error shape: \(malformed)")
        #expect(shape["type"] as? String == "invalid_request_error")
        #expect((shape["message"] as? String)?.isEmpty == false)
        #expect((seen["wrong_type"] as? [String: Any])?["status"] as? Int == 400)
        #expect((seen["healthz"] as? [String: Any])?["status"] as? Int == 200)
        // a prompt the context cannot hold is a 400 with OpenAI's code, streamed or not
        for (name, param) in [("too_long", "prompt"), ("too_long_stream", "messages")] {
            let tooLong = try #require(seen[name] as? [String: Any], "\(name): \(seen[name] ?? "nil")")
            #expect(tooLong["status"] as? Int == 400, "\(name)")
            #expect(tooLong["code"] as? String == "context_length_exceeded", "\(name)")
            #expect(tooLong["param"] as? String == param, "\(name)")
            #expect((tooLong["message"] as? String)?.contains("tokens") == true, "\(name): \(tooLong)")
        }
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("/metrics parses with prometheus_client and its counters move as requests run", python)
    func metrics() throws {
        let scratch = Scratch()
        scratch.writeConfig(toyKnobs: "step_ms=2 experts=4")  // the toy routes tokens over 4 experts
        let daemon = try DaemonProcess(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let seen = try GatewayPython.check("metrics", gateway: gateway)
        #expect(seen["status"] as? Int == 200)
        #expect(seen["requests"] as? Double == 2)
        #expect(seen["generated"] as? Double == 9)
        #expect((seen["prompt"] as? Double ?? 0) >= 8)
        #expect(seen["ttft_count"] as? Double == 2)
        #expect(seen["token_latency_count"] as? Double == 7)
        #expect((seen["ttft_inf_bucket"] as? Double ?? 0) >= 2)
        #expect(seen["ready"] as? Double == 1)
        #expect(seen["loads"] as? Double == 1)
        #expect(seen["up"] as? Double == 1)
        #expect(seen["completions"] as? Double == 2)
        let entropy = try #require(seen["expert_entropy_layer0"] as? Double, "no expert-load entropy for layer 0")
        #expect(entropy > 0 && entropy <= log(4.0) + 1e-9)
        let types = try #require(seen["types"] as? [String: String])
        #expect(types["moed_tier_requests"] == "counter")
        #expect(types["moed_tier_time_to_first_token_seconds"] == "histogram")
        #expect(types["moed_tier_state"] == "gauge")
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("32 concurrent streaming clients all finish with no error", python)
    func concurrentStreams() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let daemon = try DaemonProcess(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let seen = try GatewayPython.check("concurrent", gateway: gateway)
        #expect(seen["error_count"] as? Int == 0, "\(seen["errors"] ?? "")")
        #expect(seen["finished"] as? Int == 32)
        #expect(seen["nonempty"] as? Int == 32)
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    /// A SmolLM2 tier on the dense plugin, greedy-friendly (no repeat penalty).
    func smolLM2(_ scratch: Scratch) throws -> DaemonProcess {
        let model = try #require(DefaultModel.path, DefaultModel.missing)
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 1
            [tiers.haiku]
            plugin = "dense"
            model = "\(model)"
            context = 512
            repeat_penalty = 1.0
            """)
        return try DaemonProcess(scratch)
    }

    @Test("SmolLM2 on the dense plugin: a greedy chat streams the same text it answers whole", python, DefaultModel.isInstalled)
    func realModel() throws {
        let scratch = Scratch()
        let daemon = try smolLM2(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let seen = try GatewayPython.check("greedy", gateway: gateway)
        let whole = try #require(seen["whole"] as? String)
        #expect(!whole.isEmpty)
        #expect(seen["streamed"] as? String == whole)
        #expect(seen["completion_tokens"] as? Int ?? 0 > 0)
        // The same conversation again continues the cached prefix: usage and
        // /metrics both say how many prompt tokens were not evaluated again.
        let prompt = try #require(seen["prompt_tokens"] as? Int)
        let againCached = try #require(seen["again_cached"] as? Int)
        #expect(seen["first_cached"] as? Int == 0)
        #expect(againCached > 0 && againCached < prompt, "\(againCached) of \(prompt) prompt tokens cached")
        #expect((seen["cached_moved"] as? Double ?? 0) >= Double(againCached))
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }

    @Test("SmolLM2: response_format's JSON schema shapes the answer; logprobs come in chat's and completions' shapes",
          python, DefaultModel.isInstalled)
    func structuredAndLogprobs() throws {
        let scratch = Scratch()
        let daemon = try smolLM2(scratch)
        let gateway = try GatewayProcess(socket: scratch.socket)
        let seen = try GatewayPython.check("structured", gateway: gateway)
        // Structured output: JSON that has the schema's fields, the country one of its enum.
        #expect(seen["schema_finish"] as? String == "stop", "\(seen["schema_answer"] ?? "")")
        let parsed = try #require(seen["schema_parsed"] as? [String: Any], "not a JSON object: \(seen["schema_answer"] ?? "")")
        #expect(Set(parsed.keys) == ["river", "country"])
        #expect(["France", "Germany", "Spain", "Italy", "Other"].contains(parsed["country"] as? String ?? ""))
        // Chat logprobs: one entry per token; greedy picks the most likely,
        // which heads its three alternatives; the bytes spell the answer.
        let entries = try #require(seen["entries"] as? [[String: Any]])
        #expect(entries.count == seen["completion_tokens"] as? Int)
        var bytes: [UInt8] = []
        for entry in entries {
            let top = entry["top"] as? [[String: Any]] ?? []
            let logprob = entry["logprob"] as? Double ?? 1
            #expect(top.count == 3 && logprob <= 0)
            #expect(top.first?["token"] as? String == entry["token"] as? String, "\(entry)")
            let tops = top.compactMap { $0["logprob"] as? Double }
            #expect(tops == tops.sorted(by: >) && abs((tops.first ?? 1) - logprob) < 1e-6)
            bytes += (entry["bytes"] as? [Int] ?? []).map { UInt8($0) }
        }
        #expect(String(decoding: bytes, as: UTF8.self) == seen["content"] as? String)
        #expect(seen["streamed_tokens"] as? [String] == entries.compactMap { $0["token"] as? String })
        #expect(seen["plain_logprobs"] as? Bool == true, "logprobs sent without being asked for")
        // Completions logprobs: parallel lists, offsets into the text.
        let text = try #require(seen["legacy_text"] as? String)
        let tokens = try #require(seen["legacy_tokens"] as? [String])
        let offsets = try #require(seen["legacy_offsets"] as? [Int])
        let top = try #require(seen["legacy_top"] as? [[String: Double]])
        #expect(!tokens.isEmpty && tokens.joined() == text)
        #expect((seen["legacy_logprobs"] as? [Double])?.count == tokens.count && top.count == tokens.count)
        #expect(top.allSatisfy { $0.count >= 1 && $0.count <= 2 })
        let scalars = Array(text.unicodeScalars)
        for (token, offset) in zip(tokens, offsets) {
            #expect(String(String.UnicodeScalarView(scalars[offset...])).hasPrefix(token), "\(token) at \(offset)")
        }
        #expect(gateway.stop() == 0)
        #expect(daemon.stop() == 0)
    }
}

import Testing
@testable import Service

/// Durations, sampling ranges and stop strings in the config: what the
/// reader refuses, naming the line and the key (issue 10, defects 2, 4, 8).
@Suite("Configuration limits")
struct ConfigLimitsTests {
    static func tier(_ line: String) -> String {
        "[tiers.a]\nplugin = \"dense\"\nmodel = \"m\"\n\(line)\n"
    }

    static func refusal(_ source: String) -> ConfigError? {
        do {
            _ = try Configuration.parse(source, path: "bad.toml")
            return nil
        } catch {
            return error as? ConfigError
        }
    }

    @Test("keep_alive values that used to crash the idle timer are refused naming line 4 and the key", arguments: [
        "keep_alive = \"inf\"", "keep_alive = 1e300", "keep_alive = \"20000000000000000\"", "keep_alive = \"1e400s\"",
        "keep_alive = \"366d\"", "keep_alive = 31_536_001", "keep_alive = \"nan\"", "keep_alive = \"infinity\"",
    ])
    func hugeKeepAlive(line: String) throws {
        let error = try #require(Self.refusal(Self.tier(line)), "accepted \(line)")
        #expect(error.line == 4)
        #expect(error.key == "keep_alive")
        #expect(error.description.hasPrefix("bad.toml:4: keep_alive: "))
    }

    @Test("keep_alive up to a year is read, in any unit; forever and negative mean never", arguments: [
        ("keep_alive = \"365d\"", 31_536_000), ("keep_alive = 31_536_000", 31_536_000), ("keep_alive = \"90m\"", 5400),
        ("keep_alive = \"250ms\"", 0.25), ("keep_alive = 1.5", 1.5), ("keep_alive = \"2d\"", 172_800),
        ("keep_alive = \"forever\"", nil), ("keep_alive = -1", nil),
    ] as [(String, Double?)])
    func keepAliveRead(line: String, seconds: Double?) throws {
        let configuration = try Configuration.parse(Self.tier(line), path: "ok.toml")
        #expect(configuration.tiers[0].keepAlive == seconds)
    }

    @Test("sampling values outside their range are refused naming line and key", arguments: [
        ("temperature = -0.5", "temperature"), ("temperature = 1e300", "temperature"), ("top_p = 1.5", "top_p"),
        ("min_p = -0.1", "min_p"), ("repeat_penalty = 0", "repeat_penalty"), ("top_k = -1", "top_k"),
        ("repeat_last_n = 2_000_000", "repeat_last_n"), ("max_tokens = 0", "max_tokens"),
        ("max_tokens = 4294967297", "max_tokens"),
    ] as [(String, String)])
    func samplingOutOfRange(line: String, key: String) throws {
        let error = try #require(Self.refusal(Self.tier(line)), "accepted \(line)")
        #expect(error.line == 4)
        #expect(error.key == key)
    }

    @Test("more than 64 stop strings, or more than 4096 bytes of them, are refused naming the limit")
    func stopLimits() throws {
        let many = (0..<65).map { "\"s\($0)\"" }.joined(separator: ", ")
        let tooMany = try #require(Self.refusal(Self.tier("stop = [\(many)]")))
        #expect(tooMany.key == "stop")
        #expect(tooMany.message.contains("limit of 64"))
        let long = String(repeating: "x", count: 4097)
        let tooLong = try #require(Self.refusal(Self.tier("stop = \"\(long)\"")))
        #expect(tooLong.key == "stop")
        #expect(tooLong.message.contains("limit of 4096"))
        let atLimits = (0..<64).map { _ in "\"\(String(repeating: "y", count: 64))\"" }.joined(separator: ", ")
        let accepted = try Configuration.parse(Self.tier("stop = [\(atLimits)]"), path: "ok.toml")
        #expect(accepted.tiers[0].generation.stopStrings.count == 64)
    }
}

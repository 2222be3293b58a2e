import Testing
@testable import Service

@Suite("[daemon] keys for connections and access")
struct ConnectionSettingsTests {
    static func daemon(_ lines: String) throws -> DaemonSettings {
        try Configuration.parse("[daemon]\n\(lines)\n[tiers.a]\nplugin = \"d\"\nmodel = \"m\"\n", path: "x.toml").daemon
    }

    @Test("defaults: 4 MiB of queued replies, 30 s slow-client timeout, 1 h idle timeout, 256 connections per uid, no admin group")
    func defaults() throws {
        let d = try Self.daemon("")
        #expect(d.maxQueuedReplyBytes == 4 << 20)
        #expect(d.slowClientTimeout == 30)
        #expect(d.idleTimeout == 3600)
        #expect(d.maxConnectionsPerUID == 256)
        #expect(d.adminGroup == nil)
        let limits = ConnectionLimits(d)
        #expect(limits.slowClientTimeoutMilliseconds == 30_001 && limits.idleTimeoutMilliseconds == 3_600_001)
        #expect(limits == ConnectionLimits(maximumFrameSize: d.maxFrameBytes, slowClientTimeoutMilliseconds: 30_001,
                                           idleTimeoutMilliseconds: 3_600_001))
    }

    @Test("the keys read sizes, durations, counts and groups")
    func read() throws {
        let d = try Self.daemon("""
            max_queued_reply_bytes = "1MiB"
            slow_client_timeout = "5s"
            idle_timeout = "forever"
            max_connections_per_uid = 8
            admin_group = "wheel"
            """)
        #expect(d.maxQueuedReplyBytes == 1 << 20)
        #expect(d.slowClientTimeout == 5)
        #expect(d.idleTimeout == nil)
        #expect(d.maxConnectionsPerUID == 8)
        #expect(d.adminGroup == "wheel")
        #expect(try Self.daemon("admin_group = 1001").adminGroup == "1001")
    }

    @Test("out-of-range and malformed values are refused naming the key", arguments: [
        ("max_queued_reply_bytes = \"auto\"", "max_queued_reply_bytes"),
        ("max_queued_reply_bytes = 100", "max_queued_reply_bytes"),
        ("max_queued_reply_bytes = \"2GiB\"", "max_queued_reply_bytes"),
        ("slow_client_timeout = \"forever\"", "slow_client_timeout"),
        ("slow_client_timeout = 0", "slow_client_timeout"),
        ("slow_client_timeout = 1e300", "slow_client_timeout"),
        ("idle_timeout = \"800h\"", "idle_timeout"),
        ("idle_timeout = 1e300", "idle_timeout"),
        ("max_connections_per_uid = 0", "max_connections_per_uid"),
        ("admin_group = \"\"", "admin_group"),
        ("admin_group = \"bad group\"", "admin_group"),
        ("admin_group = -1", "admin_group"),
    ] as [(String, String)])
    func refused(line: String, key: String) {
        do {
            _ = try Self.daemon(line)
            Issue.record("accepted \(line)")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.line == 2)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("timer milliseconds never trap, whatever the seconds", arguments: [Double.nan, .infinity, -1, 0, 1e300, 0.25])
    func milliseconds(_ seconds: Double) {
        let value = ConnectionLimits.milliseconds(seconds)
        #expect(value >= 1 && value <= 1_000_000_000_001)
    }
}

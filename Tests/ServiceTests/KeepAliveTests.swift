import Dispatch
import Foundation
import Testing
import MoeAPI
import MoeClient
@testable import Service

/// The keep-alive timer against durations no timer can hold (issue 10,
/// defect 4): the config refuses them now, and the timer's arming clamps
/// whatever reaches it, so neither can trap the daemon.
@Suite("Keep-alive timer", .serialized)
struct KeepAliveTests {
    @Test("seconds become timer milliseconds for every Double without trapping", arguments: [
        (0, 0), (-5, 0), (0.0004, 1), (1.5, 1500), (300, 300_000), (-.infinity, 0),
        (1e300, 1 << 53), (.infinity, 1 << 53), (.nan, 1 << 53), (2e16, 1 << 53), (.greatestFiniteMagnitude, 1 << 53),
    ] as [(Double, UInt64)])
    func clampedConversion(seconds: Double, milliseconds: UInt64) {
        #expect(LoopTimer.milliseconds(fromSeconds: seconds) == milliseconds)
    }

    @Test("a real daemon whose idle tier keeps alive for 1e300 s, or forever as infinity, goes on serving",
          arguments: [1e300, .infinity, 2e16])
    func idleTierWithHugeKeepAlive(seconds: Double) throws {
        let directory = NSTemporaryDirectory() + "moed-keepalive-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = directory + "/toy.txt"
        try "#toy step_ms=1\nHello from the toy model. ".write(toFile: model, atomically: true, encoding: .utf8)
        var settings = DaemonSettings()
        settings.socketPath = directory + "/moed.sock"
        settings.socketMode = 0o600
        settings.memoryBudget = 1 << 30
        settings.defaultTier = "idle"
        // Made in code: the config reader refuses such values before they get here.
        var tier = TierSettings(name: "idle", plugin: "toy", model: model)
        tier.keepAlive = seconds
        let configuration = Configuration(path: directory + "/moed.toml", daemon: settings, tiers: [tier])
        let daemon = try Daemon(configuration: configuration, extraPluginDirectories: [Self.buildDirectory])
        try daemon.start()
        let stopper = try AsyncQueue(loop: daemon.loop)
        let outcome = Outcome()
        nonisolated(unsafe) let stop = { daemon.stop(); stopper.close() }
        let socket = settings.socketPath
        DispatchQueue.global().async {
            outcome.record { try Self.generateThenCheckIdle(socket: socket) }
            stopper.post(stop)
        }
        // Before the fix the loop trapped here, converting 1e300 s to UInt64 ms,
        // as soon as the generation ended and the tier went idle.
        daemon.run()
        #expect(daemon.loop.closeClean())
        let idle = try #require(outcome.value)
        #expect(idle.state == .ready)
        #expect(idle.keepAliveSeconds == seconds)
    }

    static func generateThenCheckIdle(socket: String) throws -> TierStatus {
        let client = try MoeClient(socketPath: socket)
        client.setReceiveTimeout(seconds: 30)
        var request = GenerateRequest()
        request.prompt = "abc"
        request.maxTokens = 3
        guard case .summary = try client.call(.generate(request)).result else { throw OutcomeError("no summary") }
        guard case .status(let status) = try client.call(.status).result, let tier = status.tiers.first else {
            throw OutcomeError("no status after the tier went idle")
        }
        return tier
    }

    /// The folder holding libmoe_toy.so: the one the test binary is in or above.
    static var buildDirectory: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("libmoe_toy.so").path) { return url.path }
        }
        return "."
    }
}

struct OutcomeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What the client thread saw, handed to the test's thread.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: TierStatus?

    func record(_ body: () throws -> TierStatus) {
        do {
            let value = try body()
            lock.withLock { stored = value }
        } catch {
            Issue.record("client failed: \(error)")
        }
    }

    var value: TierStatus? { lock.withLock { stored } }
}

import Foundation
import Testing
import MoeAPI
import MoeClient

/// A line of /proc/PID/status in bytes ("VmRSS:  1234 kB").
func procStatusBytes(_ pid: Int32, _ key: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
    return nil
}

@Suite("Backpressure on a client that never reads", .serialized)
struct BackpressureTests {
    @Test("8 MB of status requests never read: the daemon's peak RSS stays bounded, the client is closed, others are served")
    func floodNeverRead() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let text = try String(contentsOfFile: scratch.config, encoding: .utf8)
        scratch.write("moed.toml", text.replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nslow_client_timeout = \"2s\"\n"))
        let daemon = try DaemonProcess(scratch)
        let rssBefore = try #require(procStatusBytes(daemon.pid, "VmRSS"))
        let flooder = try daemon.client()
        let frame = Framing.frame(Request(id: 1, call: .status).serialized())
        let block = (0..<(64 << 10) / frame.count).flatMap { _ in frame }  // ~64 KB of requests
        let closedByDaemon = Locked(false)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let writer = flooder
        DispatchQueue.global().async {
            do {
                for _ in 0..<((8 << 20) / block.count) { try writer.write(block) }
            } catch {
                closedByDaemon.update { $0 = true }
            }
            done.signal()
        }
        #expect(try statusOf(daemon).pid == UInt32(daemon.pid), "another client is served during the flood")
        done.wait()
        let peak = try #require(procStatusBytes(daemon.pid, "VmHWM"))
        #expect(closedByDaemon.value, "the daemon closed the client that never read")
        let growth = "peak RSS grew by \((peak - rssBefore) >> 20) MiB (from \(rssBefore >> 20) MiB)"
        if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil {
            // Under scripts/sanitize.sh the daemon is AddressSanitizer's: its
            // quarantine holds freed memory (474 MiB here), so RSS says nothing
            // about queued replies. The close and the other client still count.
            print("note: RSS bound not checked under AddressSanitizer; \(growth)")
        } else {
            #expect(peak - rssBefore < 48 << 20, "\(growth)")
        }
        #expect(daemon.log.contains("reply bytes unread"), "the close is logged")
        #expect(try statusOf(daemon).pid == UInt32(daemon.pid))
        #expect(daemon.stop() == 0)
    }
}

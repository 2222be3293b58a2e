import Foundation
import Testing
import MoeAPI
import MoeClient

@Suite("moed owns its socket", .serialized)
struct SocketOwnershipTests {
    @Test("a second moed on a live socket says so and exits 69; the first keeps its socket and serves")
    func secondDaemonRefused() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let first = try DaemonProcess(scratch)
        let before = try FileManager.default.attributesOfItem(atPath: scratch.socket)[.systemFileNumber] as? Int
        let second = Process()
        second.executableURL = URL(fileURLWithPath: Build.path("moed"))
        second.arguments = ["--config", scratch.config]
        let err = Pipe()
        second.standardError = err
        try second.run()
        // One that took the socket over would serve on: wait for the exit
        // a refusal makes, and stop it otherwise.
        for _ in 0..<400 where second.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        if second.isRunning {
            Issue.record("the second moed did not exit: it took the socket over")
            second.terminate()
        }
        second.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(second.terminationStatus == 69)
        #expect(message.contains("another moed is serving on \(scratch.socket) (pid \(first.pid))"), "\(message)")
        let after = try FileManager.default.attributesOfItem(atPath: scratch.socket)[.systemFileNumber] as? Int
        #expect(before != nil && after == before, "the live socket is the same file")
        #expect(try statusOf(first).pid == UInt32(first.pid))
        #expect(first.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: scratch.socket), "the first removes its own socket on exit")
    }

    @Test("a missing socket folder is named at start")
    func missingFolder() throws {
        let scratch = Scratch()
        scratch.writeConfig()
        let text = try String(contentsOfFile: scratch.config, encoding: .utf8)
        scratch.write("moed.toml", text.replacingOccurrences(of: scratch.socket, with: scratch.directory + "/gone/moed.sock"))
        let (code, message) = try #require(try moedRefusal(["--config", scratch.config]), "moed started without its socket's folder")
        #expect(code == 69)
        #expect(message.contains("directory \(scratch.directory)/gone does not exist"), "\(message)")
    }
}

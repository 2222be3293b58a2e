import Foundation
import Testing
import TestSupport

/// A tier whose interleaved layout is made after it is ready
/// (`MOED_REPACK_AFTER_LOAD_MIB=0` makes every file count as large): moed
/// serves it at once from the mapped weights, swaps the copies in between
/// steps, and its greedy output is `moectl run`'s, whose layout was made
/// during the load (docs/kernels.md, "Layout after load").
@Suite("Layout prepared after load, through moed", .serialized)
struct LayoutAfterLoadDaemonTests {
    @Test("a Q4_1 tier serves while its layout is prepared and gives moectl run's greedy tokens")
    func servesAndMatchesRun() throws {
        var model = SyntheticModel()
        model.weightType = .q4_1
        let path = try model.write(named: "layout-after-load-e2e")
        let scratch = Scratch()
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            threads = 2
            [tiers.only]
            plugin = "dense"
            model = "\(path)"
            context = 128
            """)
        let daemon = try DaemonProcess(scratch, environment: ["MOED_REPACK_AFTER_LOAD_MIB": "0"])
        let flags = ["--temperature", "0", "--max-tokens", "24", "--json", "--raw", "the cat sat"]
        let local = try moectl(["run", "--model", path, "--context", "128", "--threads", "2"] + flags, socket: scratch.socket)
        #expect(local.code == 0, "\(local.err)")
        let expected = try RunMatchesGenerateTests.Answer(json: local.out)
        #expect(!expected.tokens.isEmpty)
        // the first request loads the tier: its first steps run while the copies are made
        for round in 0..<3 {
            let served = try moectl(["generate", "--no-cache-prompt"] + flags, socket: scratch.socket)
            #expect(served.code == 0, "\(served.err)")
            let answer = try RunMatchesGenerateTests.Answer(json: served.out)
            #expect(answer.tokens == expected.tokens && answer.text == expected.text,
                    "round \(round): generate \(answer) ≠ run \(expected)")
        }
        let status = try moectl(["status"], socket: scratch.socket)
        #expect(status.code == 0 && status.out.contains("ready"), "\(status.out)")
        #expect(daemon.stop() == 0)
    }

    @Test("moectl's offline verbs wait for a layout made after load: score's logits are bit for bit those of one made during it")
    func offlineVerbsWait() throws {
        var model = SyntheticModel()
        model.weightType = .q4_1
        model.contextLength = 1024
        // enough matrices that the first pass starts before the last copy lands
        (model.embedding, model.feedForward, model.layers) = (256, 1024, 8)
        let path = try model.write(named: "layout-after-load-score")
        let scratch = Scratch()
        // long enough that the first passes would start before the copies land
        let text = String(repeating: "the cat sat on the mat and looked at the dog. ", count: 12)
        var logits: [Data] = []
        for mib in ["0", "1024"] {
            let out = scratch.directory + "/logits-\(mib).bin"
            let scored = try moectl(["score", "--model", path, "--threads", "1", "--context", "1024", "--logits-out", out, text],
                                    socket: scratch.socket, environment: ["MOED_REPACK_AFTER_LOAD_MIB": mib])
            #expect(scored.code == 0, "\(scored.err)")
            logits.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(logits[0].count > 0)
        let same = logits[0] == logits[1]  // a Bool: a failed #expect on the Data would diff megabytes
        #expect(same, "the logits depend on when the layout after load landed")
    }
}

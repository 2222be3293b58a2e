import Foundation
import Testing
import TestSupport

/// The MoE plugin under the real daemon, on tiny Mixtral-layout files made
/// in code: it serves them, reports router counts through `moectl stats`,
/// applies a tier's experts_used, and refuses a file without experts.
@Suite("MoE tiers through moed", .serialized)
struct MoETierTests {
    let scratch = Scratch()

    func start() throws -> DaemonProcess {
        var moe = SyntheticModel.mixtral(experts: 8, used: 2)
        moe.layers = 2
        let moePath = try moe.write(named: "e2e-mixtral")
        let densePath = try SyntheticModel().write(named: "e2e-dense")
        scratch.write("moed.toml", """
            [daemon]
            socket = "\(scratch.socket)"
            default_tier = "sonnet"
            threads = 1

            [tiers.sonnet]
            plugin = "moe"
            model = "\(moePath)"
            context = 128
            temperature = 0

            [tiers.opus]
            plugin = "moe"
            model = "\(moePath)"
            context = 128
            experts_used = 4
            temperature = 0

            [tiers.wrong]
            plugin = "moe"
            model = "\(densePath)"
            """)
        return try DaemonProcess(scratch)
    }

    func stats(_ tier: String) throws -> [String: Any] {
        let r = try moectl(["stats", "--json"], socket: scratch.socket)
        let all = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] ?? []
        return all.first { $0["name"] as? String == tier } ?? [:]
    }

    @Test("serves a MoE file and counts experts-used picks per token and layer")
    func servesAndCounts() throws {
        let daemon = try start()
        for (tier, used) in [("sonnet", 2), ("opus", 4)] {
            let r = try moectl(["generate", "--tier", tier, "--raw", "--max-tokens", "5", "--json", "the cat"], socket: scratch.socket)
            #expect(r.code == 0, "\(r.err)")
            let s = try stats(tier)
            let counts = s["expert_counts"] as? [Int] ?? []
            #expect(s["experts"] as? Int == 8 && s["layers"] as? Int == 2)
            let entropy = s["expert_load_entropy"] as? [Double] ?? []
            #expect(entropy.count == 2 && entropy.allSatisfy { $0 > 0 && $0 <= 3 }, "\(entropy)")
            // The router's own uncertainty: between certain (0) and uniform (ln 8).
            let routing = s["routing_entropy"] as? [Double] ?? []
            #expect(routing.count == 2 && routing.allSatisfy { $0 > 0 && $0 < log(8.0) }, "\(routing)")
            #expect(counts.count == 16)
            // Every evaluated token picks `used` experts in each of the 2 layers;
            // the last generated token is sampled but never evaluated.
            let evaluated = (s["prompt_tokens"] as? Int ?? 0) + (s["completion_tokens"] as? Int ?? 0)
            let picks = counts.reduce(0, +)
            #expect(picks == 2 * used * (evaluated - 1),
                    "\(picks) picks for \(evaluated) tokens with \(used) experts used")
        }
        #expect(daemon.stop() == 0)
    }

    @Test("refuses a file without experts, naming the dense plugin, and keeps serving")
    func refusesDense() throws {
        let daemon = try start()
        let r = try moectl(["load", "wrong"], socket: scratch.socket)
        #expect(r.code == 2)
        #expect(r.err.contains("no experts"), "\(r.err)")
        #expect(try moectl(["generate", "--raw", "--max-tokens", "2", "hi"], socket: scratch.socket).code == 0)
        #expect(daemon.stop() == 0)
    }
}

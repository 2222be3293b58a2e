import Testing
import MoeAPI
@testable import Service

@Suite("Tier state machine and text streaming")
struct StateAndTextTests {
    @Test("only the documented moves are allowed")
    func moves() {
        let allowed: Set<String> = ["unloaded→loading", "loading→ready", "loading→failed", "ready→draining",
                                    "ready→failed", "draining→unloaded", "draining→failed", "failed→loading",
                                    "failed→unloaded"]
        for from in TierState.allCases {
            for to in TierState.allCases {
                #expect(from.canMove(to: to) == allowed.contains("\(from.name)→\(to.name)"), "\(from.name)→\(to.name)")
            }
        }
    }

    @Test("a tier refuses a move the table forbids and keeps its state")
    func refusedMove() {
        let tier = Tier(settings: TierSettings(name: "t", plugin: "p", model: "m"), now: 0)
        #expect(!tier.move(to: .ready))
        #expect(tier.state == .unloaded)
    }

    @Test("UTF-8 characters split across tokens come out whole")
    func utf8() {
        var stream = TextStream(stops: [])
        let bytes = Array("é✓🙂".utf8)
        var shown = ""
        for byte in bytes { shown += stream.feed([byte]).text }
        shown += stream.finish()
        #expect(shown == "é✓🙂")
        var partial = TextStream(stops: [])
        #expect(partial.feed(Array(bytes.prefix(3))).text == "é")
    }

    @Test("stop strings are cut even when split across tokens")
    func stops() {
        var stream = TextStream(stops: ["END"])
        var shown = ""
        var stopped = false
        for piece in ["hello E", "N", "D more"] where !stopped {
            let step = stream.feed(Array(piece.utf8))
            shown += step.text
            stopped = step.stopped
        }
        #expect(stopped)
        #expect(shown == "hello ")
    }
}

import Testing
import MoeAPI
@testable import Service

@Suite("Tier state machine")
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
}

import MoeAPI

extension TierState {
    /// The allowed moves of a tier's state machine. Anything else is a bug
    /// in the scheduler, refused and logged rather than performed.
    ///
    ///     unloaded → loading → ready → draining → unloaded
    ///                   ↘ failed → loading | unloaded
    static let allowedMoves: [TierState: Set<TierState>] = [
        .unloaded: [.loading],
        .loading: [.ready, .failed],
        .ready: [.draining],
        .draining: [.unloaded],
        .failed: [.loading, .unloaded],
    ]

    func canMove(to next: TierState) -> Bool {
        Self.allowedMoves[self]?.contains(next) ?? false
    }
}

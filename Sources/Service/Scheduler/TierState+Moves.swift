import MoeAPI

extension TierState {
    /// The allowed moves of a tier's state machine. Anything else is a bug
    /// in the scheduler, refused and logged rather than performed.
    ///
    ///     unloaded → loading → ready → draining → unloaded
    ///                   ↘       ↓         ↓
    ///                     failed → loading | unloaded
    ///
    /// A ready or draining tier fails when its model file changes on disk
    /// (`Scheduler.modelFileChanged`).
    static let allowedMoves: [TierState: Set<TierState>] = [
        .unloaded: [.loading],
        .loading: [.ready, .failed],
        .ready: [.draining, .failed],
        .draining: [.unloaded, .failed],
        .failed: [.loading, .unloaded],
    ]

    func canMove(to next: TierState) -> Bool {
        Self.allowedMoves[self]?.contains(next) ?? false
    }
}

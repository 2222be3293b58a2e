/// A finished generation's sequence, left for the next job on the tier's
/// lane (the lane may still be stepping it when the loop retires it).
/// With `generation` set, the sequence is offered to the prefix cache,
/// its KV holding `generation.context` (read on the lane, where
/// they are written); without, it is removed.
struct RetiredSequence {
    let sequence: Int32
    let generation: Generation?

    /// A sequence to remove, e.g. one the prefix cache let go.
    static func remove(_ sequence: Int32) -> RetiredSequence {
        RetiredSequence(sequence: sequence, generation: nil)
    }
}

/// On the tier's lane: keeps each retired sequence in the prefix cache
/// when it may be reused, removes it otherwise, and removes whatever the
/// cache pushed out to make room.
func release(_ retired: [RetiredSequence], model: ModelBackend, cache: PrefixCache?) {
    for item in retired {
        guard let g = item.generation, g.kvIsTrusted, let cache, cache.isEnabled,
              let bytes = try? model.sequenceBytes(item.sequence) else {
            try? model.removeSequence(item.sequence)
            continue
        }
        for sequence in cache.insert(sequence: item.sequence, tokens: g.context, bytes: bytes) {
            try? model.removeSequence(sequence)
        }
    }
}

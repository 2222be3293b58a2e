import CMoePlugin

/// Prefix reuse: the optional `sequence_truncate`, `sequence_copy` and
/// `sequence_bytes` entries (docs/plugin-abi.md). A plugin without them
/// answers every call with MOE_ERR_UNSUPPORTED, so a caller needs no
/// separate check beyond `canEditSequences`.
extension PluginModel {
    /// Whether the plugin has the prefix-reuse entries.
    public var canEditSequences: Bool { plugin.sequenceEditing != nil }

    /// Keeps the first `count` positions of `sequence`.
    public func truncateSequence(_ sequence: Int32, to count: Int) throws {
        let editing = try requireEditing("sequence_truncate")
        try plugin.check(editing.truncate(try open(), sequence, try positions(count)), "sequence_truncate")
    }

    /// Makes `destination` hold the first `count` positions of `source`.
    public func copySequence(_ source: Int32, to destination: Int32, count: Int) throws {
        let editing = try requireEditing("sequence_copy")
        try plugin.check(editing.copy(try open(), source, destination, try positions(count)), "sequence_copy")
    }

    /// Bytes the sequence's KV cache holds now.
    public func sequenceBytes(_ sequence: Int32) throws -> UInt64 {
        let editing = try requireEditing("sequence_bytes")
        var bytes: UInt64 = 0
        try plugin.check(editing.bytes(try open(), sequence, &bytes), "sequence_bytes")
        return bytes
    }

    private func requireEditing(_ operation: String) throws -> SequenceEditing {
        guard let editing = plugin.sequenceEditing else {
            throw PluginCallError(code: MOE_ERR_UNSUPPORTED.rawValue, operation: operation,
                                  message: "plugin \(plugin.name) has no \(operation) (built against an older moe_plugin.h)")
        }
        return editing
    }

    private func positions(_ count: Int) throws -> UInt32 {
        guard let value = UInt32(exactly: count) else {
            throw PluginCallError(code: MOE_ERR_INVALID_ARGUMENT.rawValue, operation: "sequence", message: "\(count) positions")
        }
        return value
    }
}

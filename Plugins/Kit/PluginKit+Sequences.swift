import CMoePlugin

/// A backend that can cut, copy and measure a sequence's KV state; its
/// table gets the optional prefix-reuse entries (`sequence_truncate`,
/// `sequence_copy`, `sequence_bytes`), so moed can continue a request
/// from the cached KV of an earlier one. Backends that are not this keep
/// those entries NULL and moed prefills every prompt.
public protocol SequenceEditingBackend: PluginBackend {
    /// Keeps the first `count` positions; more than the sequence holds is an error.
    func truncateSequence(_ sequence: Int32, to count: Int) throws
    /// Makes `destination` hold the first `count` positions of `source`.
    func copySequence(_ source: Int32, to destination: Int32, count: Int) throws
    /// Bytes the sequence's KV cache holds now.
    func sequenceBytes(_ sequence: Int32) throws -> UInt64
}

extension PluginKit {
    static func addSequenceEditing(to table: UnsafeMutablePointer<moe_plugin_api>) {
        table.pointee.sequence_truncate = { model, sequence, count in
            PluginKit.run { try PluginKit.editingModel(model).truncateSequence(sequence, to: Int(count)) }
        }
        table.pointee.sequence_copy = { model, source, destination, count in
            PluginKit.run { try PluginKit.editingModel(model).copySequence(source, to: destination, count: Int(count)) }
        }
        table.pointee.sequence_bytes = { model, sequence, out in
            PluginKit.run {
                guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_bytes") }
                out.pointee = try PluginKit.editingModel(model).sequenceBytes(sequence)
            }
        }
    }

    static func editingModel(_ pointer: OpaquePointer?) throws -> SequenceEditingBackend {
        guard let model = try PluginKit.model(pointer) as? SequenceEditingBackend else {
            throw PluginFailure(MOE_ERR_UNSUPPORTED, "this backend cannot edit sequences")
        }
        return model
    }
}

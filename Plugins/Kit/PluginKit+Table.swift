import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The C function table. Each entry is a non-capturing closure that finds
// the backend through PluginKit.backend and the model through its handle.

extension PluginKit {
    static func makeTable(_ backend: PluginBackend.Type) -> UnsafeMutablePointer<moe_plugin_api> {
        let name = backend.pluginName, version = backend.pluginVersion
        let table = UnsafeMutablePointer<moe_plugin_api>.allocate(capacity: 1)
        table.initialize(to: moe_plugin_api(
            abi_version: MOE_PLUGIN_ABI_VERSION, struct_size: UInt32(MemoryLayout<moe_plugin_api>.size),
            name: UnsafePointer(strdup(name)), version: UnsafePointer(strdup(version)),
            last_error: { lastErrorPointer() },
            estimate: { params, out in
                PluginKit.run {
                    guard let out, let backend = PluginKit.backend else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL estimate") }
                    out.pointee = try backend.estimate(try PluginKit.request(params))
                }
            },
            open: { params, progress, context, out in
                PluginKit.run {
                    guard let out, let backend = PluginKit.backend else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_model") }
                    let model = try backend.open(try PluginKit.request(params)) { progress?(context, $0) }
                    out.pointee = OpaquePointer(Unmanaged<AnyObject>.passRetained(model as AnyObject).toOpaque())
                }
            },
            describe: { model, out in
                PluginKit.run {
                    guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL info") }
                    out.pointee = PluginKit.info(try PluginKit.model(model).describe())
                }
            },
            tokenize: { model, text, length, addSpecial, parseSpecial, tokens, capacity, count in
                PluginKit.run {
                    guard text != nil || length == 0 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL text") }
                    let bytes = text.map { UnsafeRawBufferPointer(start: $0, count: length) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    let string = String(decoding: bytes, as: UTF8.self)
                    let result = try PluginKit.model(model).tokenize(string, addSpecial: addSpecial != 0, parseSpecial: parseSpecial != 0)
                    try PluginKit.emit(result, into: tokens, capacity: capacity, count: count)
                }
            },
            detokenize: { model, tokens, count, bytes, capacity, length in
                PluginKit.run {
                    guard tokens != nil || count == 0 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL tokens") }
                    let list = tokens.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
                    let result = try PluginKit.model(model).detokenize(list).map { CChar(bitPattern: $0) }
                    try PluginKit.emit(result, into: bytes, capacity: capacity, count: length)
                }
            },
            render_chat: { model, messages, count, addPrompt, bytes, capacity, length in
                PluginKit.run {
                    guard messages != nil || count == 0 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL messages") }
                    let turns = try (0..<count).map { index -> (role: String, content: String) in
                        let m = messages![index]
                        guard let role = m.role, let content = m.content else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL message field") }
                        return (String(cString: role), String(cString: content))
                    }
                    let text = try PluginKit.model(model).renderChat(turns, addGenerationPrompt: addPrompt != 0)
                    try PluginKit.emit(text.utf8.map { CChar(bitPattern: $0) }, into: bytes, capacity: capacity, count: length)
                }
            },
            sequence_create: { model, out in
                PluginKit.run {
                    guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_sequence") }
                    out.pointee = try PluginKit.model(model).createSequence()
                }
            },
            sequence_clear: { model, sequence in PluginKit.run { try PluginKit.model(model).clearSequence(sequence) } },
            sequence_remove: { model, sequence in PluginKit.run { try PluginKit.model(model).removeSequence(sequence) } },
            evaluate: { model, items, count, logits, capacity in
                PluginKit.run {
                    guard items != nil || count == 0 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL items") }
                    let backend = try PluginKit.model(model)
                    let batch = items.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
                    let needed = batch.filter { $0.want_logits != 0 }.count * backend.vocabularySize
                    guard needed <= capacity, needed == 0 || logits != nil else {
                        throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "logits buffer holds \(capacity) floats, \(needed) needed")
                    }
                    var nothing: Float = 0  // a valid pointer when no row is wanted
                    try withUnsafeMutablePointer(to: &nothing) { try backend.evaluate(batch, logits: logits ?? $0) }
                }
            },
            expert_stats: { model, counts, capacity, count in
                PluginKit.run { try PluginKit.emit(try PluginKit.model(model).expertCounts(), into: counts, capacity: capacity, count: count) }
            },
            routing_entropy: { model, nats, capacity, count in
                PluginKit.run { try PluginKit.emit(try PluginKit.model(model).routingEntropy(), into: nats, capacity: capacity, count: count) }
            },
            close: { model in
                guard let model else { return }
                Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(model)).release()
            },
            sequence_truncate: nil, sequence_copy: nil, sequence_bytes: nil,
            context_end_tokens: { model, tokens, capacity, count in
                PluginKit.run { try PluginKit.emit(try PluginKit.model(model).endOfGenerationTokens(), into: tokens, capacity: capacity, count: count) }
            },
            memory_usage: { model, out in
                PluginKit.run {
                    guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_usage") }
                    out.pointee = try PluginKit.model(model).memoryUsage()
                }
            },
            memory_sequence_bytes: { model, positions, out in
                PluginKit.run {
                    guard let out else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL out_bytes") }
                    out.pointee = try PluginKit.model(model).sequenceBytes(positions: Int(positions))
                }
            },
            text_generation_version: 0, generate_text: nil))
        if backend is SequenceEditingBackend.Type { addSequenceEditing(to: table) }
        return table
    }

    static func info(_ d: ModelDescription) -> moe_model_info {
        var info = moe_model_info()
        withUnsafeMutableBytes(of: &info.architecture) { copy(d.architecture, to: $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity: $0.count) }
        withUnsafeMutableBytes(of: &info.name) { copy(d.name, to: $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity: $0.count) }
        info.vocab_size = UInt32(clamping: d.vocabularySize)
        info.context_length = UInt32(clamping: d.contextLength)
        info.layers = UInt32(clamping: d.layers)
        info.experts = UInt32(clamping: d.experts)
        info.experts_used = UInt32(clamping: d.expertsUsed)
        info.bos_token = d.bos ?? -1
        info.eos_token = d.eos ?? -1
        info.eot_token = d.eot ?? -1
        return info
    }
}

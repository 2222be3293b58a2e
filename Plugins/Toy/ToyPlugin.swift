import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The C entry points of the toy plugin. Only C types cross the boundary;
// every failure returns a negative status and sets a per-thread message.

@_cdecl("moe_plugin_probe")
public func moePluginProbe(_ host: UnsafePointer<moe_host_info>?, _ reason: UnsafeMutablePointer<CChar>?,
                           _ capacity: Int) -> Int32 {
    guard let host, host.pointee.abi_version == MOE_PLUGIN_ABI_VERSION else {
        copy("toy plugin speaks ABI \(MOE_PLUGIN_ABI_VERSION) only", to: reason, capacity: capacity)
        return MOE_ERR_ABI_MISMATCH.rawValue
    }
    return MOE_OK.rawValue
}

@_cdecl("moe_plugin_init")
public func moePluginInit(_ hostVersion: UInt32, _ out: UnsafeMutablePointer<UnsafePointer<moe_plugin_api>?>?) -> Int32 {
    guard let out else { return MOE_ERR_INVALID_ARGUMENT.rawValue }
    guard hostVersion == MOE_PLUGIN_ABI_VERSION else { return MOE_ERR_ABI_MISMATCH.rawValue }
    out.pointee = UnsafePointer(toyTable)
    return MOE_OK.rawValue
}

/// The function table, at a stable address for the life of the process.
nonisolated(unsafe) private let toyTable: UnsafeMutablePointer<moe_plugin_api> = {
    let table = UnsafeMutablePointer<moe_plugin_api>.allocate(capacity: 1)
    table.initialize(to: moe_plugin_api(
        abi_version: MOE_PLUGIN_ABI_VERSION,
        struct_size: UInt32(MemoryLayout<moe_plugin_api>.size),
        name: UnsafePointer(strdup("toy")), version: UnsafePointer(strdup("1.0")),
        last_error: { UnsafePointer(lastErrorPointer()) },
        estimate: toyEstimate, open: toyOpen, describe: toyDescribe,
        tokenize: toyTokenize, detokenize: toyDetokenize, render_chat: toyRenderChat,
        sequence_create: { model, out in
            guard let model, let out else { return fail(.invalid("NULL argument")) }
            out.pointee = toy(model).createSequence()
            return MOE_OK.rawValue
        },
        sequence_clear: { model, sequence in
            guard let model else { return fail(.invalid("NULL model")) }
            return run { try toy(model).clear(sequence) }
        },
        sequence_remove: { model, sequence in
            guard let model else { return fail(.invalid("NULL model")) }
            return run { try toy(model).remove(sequence) }
        },
        evaluate: toyEvaluate, expert_stats: toyExpertStats, routing_entropy: toyRoutingEntropy,
        close: { model in
            guard let model else { return }
            Unmanaged<ToyModel>.fromOpaque(UnsafeRawPointer(model)).release()
        },
        sequence_truncate: { model, sequence, count in
            guard let model else { return fail(.invalid("NULL model")) }
            return run { try toy(model).truncate(sequence, to: Int(count)) }
        },
        sequence_copy: { model, source, destination, count in
            guard let model else { return fail(.invalid("NULL model")) }
            return run { try toy(model).copy(source, to: destination, count: Int(count)) }
        },
        sequence_bytes: { model, sequence, out in
            guard let model, let out else { return fail(.invalid("NULL argument")) }
            return run { out.pointee = try toy(model).bytes(of: sequence) }
        },
        context_end_tokens: nil,
        memory_usage: nil, memory_sequence_bytes: nil,
        text_generation_version: 0, generate_text: nil))
    return table
}()

private func toy(_ model: OpaquePointer) -> ToyModel {
    Unmanaged<ToyModel>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue()
}

private func readModel(_ params: UnsafePointer<moe_open_params>?) throws -> (ToyModel.Knobs, [UInt8], Int) {
    guard let params, let path = params.pointee.path else { throw ToyError.invalid("NULL params") }
    guard let file = fopen(path, "rb") else {
        throw ToyError.notFound("cannot open \(String(cString: path)): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let read = fread(&chunk, 1, chunk.count, file)
        if read == 0 { break }
        bytes += chunk[..<read]
        if bytes.count > 1 << 20 { throw ToyError.format("toy model larger than 1 MiB") }
    }
    let (knobs, text) = try ToyModel.parse(bytes)
    let context = params.pointee.context_length == 0 ? 512 : Int(params.pointee.context_length)
    return (knobs, text, context)
}

private let toyEstimate: @convention(c) (UnsafePointer<moe_open_params>?, UnsafeMutablePointer<moe_memory_estimate>?) -> Int32 = { params, out in
    guard let out else { return fail(.invalid("NULL estimate")) }
    return run {
        let (knobs, text, context) = try readModel(params)
        let sequences = UInt64(max(params!.pointee.max_sequences, 1))
        out.pointee = moe_memory_estimate(weight_bytes: knobs.weightBytes ?? UInt64(text.count),
                                          cache_bytes: UInt64(context) * 16 * sequences, scratch_bytes: 1024)
    }
}

private let toyOpen: @convention(c) (UnsafePointer<moe_open_params>?, moe_progress_fn?, UnsafeMutableRawPointer?,
                                     UnsafeMutablePointer<OpaquePointer?>?) -> Int32 = { params, progress, context, out in
    guard let out else { return fail(.invalid("NULL out_model")) }
    return run {
        let (knobs, text, contextLength) = try readModel(params)
        if knobs.failOpen { throw ToyError.io("fail_open knob set") }
        for step in 1...10 {
            if knobs.loadMilliseconds > 0 { usleep(UInt32(knobs.loadMilliseconds * 100)) }
            progress?(context, Float(step) / 10)
        }
        let model = ToyModel(text: text, knobs: knobs, contextLength: contextLength)
        out.pointee = OpaquePointer(Unmanaged.passRetained(model).toOpaque())
    }
}

private let toyDescribe: @convention(c) (OpaquePointer?, UnsafeMutablePointer<moe_model_info>?) -> Int32 = { model, out in
    guard let model, let out else { return fail(.invalid("NULL argument")) }
    let m = toy(model)
    var info = moe_model_info()
    withUnsafeMutableBytes(of: &info.architecture) { _ = strncpy($0.baseAddress!.assumingMemoryBound(to: CChar.self), "toy", 63) }
    withUnsafeMutableBytes(of: &info.name) { _ = strncpy($0.baseAddress!.assumingMemoryBound(to: CChar.self), "toy reciter", 127) }
    info.vocab_size = UInt32(ToyModel.vocabularySize)
    info.context_length = UInt32(m.contextLength)
    info.layers = UInt32(ToyModel.layers)
    info.experts = UInt32(m.knobs.experts)
    info.experts_used = m.knobs.experts > 0 ? 1 : 0
    info.bos_token = ToyModel.bos
    info.eos_token = ToyModel.eos
    info.eot_token = -1
    out.pointee = info
    return MOE_OK.rawValue
}

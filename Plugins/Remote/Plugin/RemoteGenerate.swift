import CMoePlugin
import MoePluginKit
import MoeRemoteHTTP
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `generate_text`: one streamed call to the upstream, on the caller's
/// thread, until it ends, fails, or the host cancels.
func remoteGenerateText(_ model: OpaquePointer?, _ request: UnsafePointer<moe_text_request>?,
                        _ onDelta: moe_text_delta_fn?, _ cancelled: moe_cancelled_fn?,
                        _ context: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<moe_text_result>?) -> Int32 {
    PluginKit.run {
        let client = try remote(model).client
        guard let out, let onDelta else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL result or delta callback") }
        let upstreamRequest = try upstream(request)
        let isCancelled = { cancelled.map { $0(context) != 0 } ?? false }
        do {
            let result = try client.generate(upstreamRequest, isCancelled: isCancelled) { text in
                text.utf8CString.withUnsafeBufferPointer { onDelta(context, $0.baseAddress, $0.count - 1) != 0 }
            }
            var end = moe_text_result()
            withUnsafeMutableBytes(of: &end.finish_reason) {
                PluginKit.copy(result.finishReason, to: $0.baseAddress?.assumingMemoryBound(to: CChar.self), capacity: $0.count)
            }
            end.has_usage = result.usage == nil ? 0 : 1
            end.prompt_tokens = UInt32(clamping: result.usage?.prompt ?? 0)
            end.completion_tokens = UInt32(clamping: result.usage?.completion ?? result.pieces)
            out.pointee = end
        } catch let error as UpstreamError {
            throw PluginFailure(status(error.kind), error.message)
        }
    }
}

private func status(_ kind: UpstreamError.Kind) -> moe_status {
    switch kind {
    case .unavailable: MOE_ERR_UNAVAILABLE
    case .rateLimited: MOE_ERR_RATE_LIMITED
    case .timeout: MOE_ERR_TIMEOUT
    case .cancelled: MOE_ERR_CANCELLED
    case .malformed: MOE_ERR_FORMAT
    case .permission: MOE_ERR_PERMISSION
    case .notFound: MOE_ERR_NOT_FOUND
    case .refused: MOE_ERR_INVALID_ARGUMENT
    }
}

/// The host's request as the upstream's; every pointer checked.
private func upstream(_ pointer: UnsafePointer<moe_text_request>?) throws -> UpstreamRequest {
    guard let pointer else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL request") }
    let r = pointer.pointee
    guard r.struct_size >= UInt32(MemoryLayout<moe_text_request>.size) else {
        throw PluginFailure(MOE_ERR_ABI_MISMATCH, "moe_text_request of \(r.struct_size) bytes, expected \(MemoryLayout<moe_text_request>.size)")
    }
    var u = UpstreamRequest()
    if r.message_count > 0 {
        guard let messages = r.messages, r.message_count <= 100_000 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL or too many messages") }
        u.messages = try UnsafeBufferPointer(start: messages, count: r.message_count).map { m in
            guard let role = m.role, let content = m.content else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "a message with a NULL field") }
            return (String(cString: role), String(cString: content))
        }
    } else {
        guard let prompt = r.prompt else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "no messages and a NULL prompt") }
        u.prompt = String(cString: prompt)
    }
    if r.stop_count > 0 {
        guard let stops = r.stops, r.stop_count <= 64 else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "NULL or too many stop strings") }
        u.stops = try UnsafeBufferPointer(start: stops, count: r.stop_count).map { stop in
            guard let stop else { throw PluginFailure(MOE_ERR_INVALID_ARGUMENT, "a NULL stop string") }
            return String(cString: stop)
        }
    }
    u.maxTokens = Int(max(r.max_tokens, 1))
    u.sampling.topK = Int(max(r.top_k, 0))
    u.sampling.temperature = r.temperature
    u.sampling.topP = r.top_p
    u.sampling.minP = r.min_p
    u.sampling.repetitionPenalty = r.repeat_penalty
    u.sampling.seed = r.seed
    return u
}

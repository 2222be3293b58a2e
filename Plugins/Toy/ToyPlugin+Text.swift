import CMoePlugin
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// Text entry points, batch evaluation and the error plumbing.

let toyTokenize: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, Int32, Int32,
                                 UnsafeMutablePointer<Int32>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
    model, text, length, addSpecial, _, tokens, capacity, count in
    guard model != nil, let count, text != nil || length == 0 else { return fail(.invalid("NULL argument")) }
    var result: [Int32] = addSpecial != 0 ? [ToyModel.bos] : []
    if let text {
        text.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            result += UnsafeBufferPointer(start: bytes, count: length).map { Int32($0) }
        }
    }
    return emit(result, into: tokens, capacity: capacity, count: count)
}

let toyDetokenize: @convention(c) (OpaquePointer?, UnsafePointer<Int32>?, Int,
                                   UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
    model, tokens, count, bytes, capacity, length in
    guard model != nil, let length, tokens != nil || count == 0 else { return fail(.invalid("NULL argument")) }
    var result: [CChar] = []
    for index in 0..<count {
        let token = tokens![index]
        guard token >= 0, token < Int32(ToyModel.vocabularySize) else { return fail(.invalid("token \(token) out of range")) }
        if token < 256 { result.append(CChar(bitPattern: UInt8(token))) }
    }
    return emit(result, into: bytes, capacity: capacity, count: length)
}

let toyRenderChat: @convention(c) (OpaquePointer?, UnsafePointer<moe_chat_message>?, Int, Int32,
                                   UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
    model, messages, count, addPrompt, bytes, capacity, length in
    guard model != nil, let length, messages != nil || count == 0 else { return fail(.invalid("NULL argument")) }
    var rendered = ""
    for index in 0..<count {
        let message = messages![index]
        guard let role = message.role, let content = message.content else { return fail(.invalid("NULL message field")) }
        rendered += "\(String(cString: role)): \(String(cString: content))\n"
    }
    if addPrompt != 0 { rendered += "assistant: " }
    return emit(rendered.utf8.map { CChar(bitPattern: $0) }, into: bytes, capacity: capacity, count: length)
}

let toyEvaluate: @convention(c) (OpaquePointer?, UnsafePointer<moe_batch_item>?, Int,
                                 UnsafeMutablePointer<Float>?, Int) -> Int32 = {
    model, items, count, logits, capacity in
    guard let model, items != nil || count == 0 else { return fail(.invalid("NULL argument")) }
    let batch = (0..<count).map { index -> ToyItem in
        let item = items![index]
        return ToyItem(token: item.token, position: item.position, sequence: item.sequence, wants: item.want_logits != 0)
    }
    let needed = batch.filter(\.wants).count * ToyModel.vocabularySize
    guard needed <= capacity, needed == 0 || logits != nil else {
        return fail(.invalid("logits buffer holds \(capacity) floats, \(needed) needed"))
    }
    return run {
        let rows = try Unmanaged<ToyModel>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue().evaluate(batch)
        for (index, row) in rows.enumerated() {
            row.withUnsafeBufferPointer { (logits! + index * ToyModel.vocabularySize).update(from: $0.baseAddress!, count: row.count) }
        }
    }
}

let toyExpertStats: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
    model, counts, capacity, count in
    guard let model, let count else { return fail(.invalid("NULL argument")) }
    let values = Unmanaged<ToyModel>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue().expertCounts
    return emit(values, into: counts, capacity: capacity, count: count)
}

/// The toy router always picks one expert by rule, so it is certain: 0 nats per layer.
let toyRoutingEntropy: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Double>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
    model, nats, capacity, count in
    guard let model, let count else { return fail(.invalid("NULL argument")) }
    let toy = Unmanaged<ToyModel>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue()
    return emit(toy.expertCounts.isEmpty ? [] : Array(repeating: 0.0, count: ToyModel.layers), into: nats, capacity: capacity, count: count)
}

/// Copies `values` out, or reports the size needed.
func emit<T>(_ values: [T], into buffer: UnsafeMutablePointer<T>?, capacity: Int, count: UnsafeMutablePointer<Int>) -> Int32 {
    count.pointee = values.count
    guard values.count <= capacity else {
        return fail(.invalid("buffer of \(capacity) too small for \(values.count)"), status: MOE_ERR_BUFFER_TOO_SMALL)
    }
    if !values.isEmpty, let buffer { values.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: values.count) } }
    return MOE_OK.rawValue
}

/// Runs `body`, mapping a thrown ToyError to its status and message.
func run(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return MOE_OK.rawValue
    } catch let error as ToyError {
        return fail(error)
    } catch {
        return fail(.invalid("\(error)"), status: MOE_ERR_INTERNAL)
    }
}

func fail(_ error: ToyError, status: moe_status? = nil) -> Int32 {
    let (code, text): (moe_status, String)
    switch error {
    case .format(let m): (code, text) = (MOE_ERR_FORMAT, m)
    case .notFound(let m): (code, text) = (MOE_ERR_NOT_FOUND, m)
    case .invalid(let m): (code, text) = (MOE_ERR_INVALID_ARGUMENT, m)
    case .io(let m): (code, text) = (MOE_ERR_IO, m)
    case .unsupported(let m): (code, text) = (MOE_ERR_UNSUPPORTED, m)
    }
    setLastError(text)
    return (status ?? code).rawValue
}

func copy(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    _ = strncpy(buffer, text, capacity - 1)
    buffer[capacity - 1] = 0
}

// Per-thread last error: a pthread key holding a malloc'd C string.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ text: String) {
    free(pthread_getspecific(errorKey))
    pthread_setspecific(errorKey, strdup(text))
}

func lastErrorPointer() -> UnsafeMutablePointer<CChar> {
    if let value = pthread_getspecific(errorKey) { return value.assumingMemoryBound(to: CChar.self) }
    setLastError("")
    return pthread_getspecific(errorKey)!.assumingMemoryBound(to: CChar.self)
}

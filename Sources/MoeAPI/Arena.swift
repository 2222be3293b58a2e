import MoeProtoC
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Owns the C memory of one message being built for packing; everything
/// is freed together when the arena goes away, so building never leaks.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { blocks.forEach { free($0) } }

    /// A zeroed C message, set up by its generated `…__init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = calloc(1, MemoryLayout<T>.stride)!.bindMemory(to: T.self, capacity: 1)
        blocks.append(UnsafeMutableRawPointer(pointer))
        initialize(pointer)
        return pointer
    }

    /// A NUL-terminated copy; interior NULs end the C string early, which
    /// protobuf-c would do anyway.
    func string(_ text: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(text)!
        blocks.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    /// A C array holding `values`, or nil when empty.
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let pointer = calloc(values.count, MemoryLayout<T>.stride)!.bindMemory(to: T.self, capacity: values.count)
        blocks.append(UnsafeMutableRawPointer(pointer))
        pointer.initialize(from: values, count: values.count)
        return pointer
    }

    /// An array of message pointers, as repeated message fields want.
    func pointers<T>(_ values: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        array(values.map { Optional($0) })
    }

    func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        array(values.map { Optional(string($0)) })
    }

    func bytes(_ values: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: values.count, data: array(values.isEmpty ? [0] : values))
    }
}

/// Packs a built C message into bytes.
func pack(_ message: UnsafeRawPointer) -> [UInt8] {
    let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
    let size = protobuf_c_message_get_packed_size(base)
    var bytes = [UInt8](repeating: 0, count: size)
    _ = bytes.withUnsafeMutableBufferPointer { protobuf_c_message_pack(base, $0.baseAddress) }
    return bytes
}

/// Reads a C string field that may be NULL (absent).
func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

/// Reads a counted C array that may be NULL.
func elements<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

import CLibUV

// libuv's grammar, once: a handle lives in memory allocated here (a stable
// address Swift never moves), `data` holds a retained reference to its
// Swift owner, and both are released only in the close callback. So an
// owner outlives its handle, and a handle never outlives its memory.

/// Allocates a zeroed libuv handle whose `data` retains `owner`.
func allocateHandle<Handle>(_ type: Handle.Type, owner: AnyObject) -> UnsafeMutablePointer<Handle> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Handle>.size,
                                               alignment: MemoryLayout<Handle>.alignment)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Handle>.size)
    let handle = raw.bindMemory(to: Handle.self, capacity: 1)
    baseHandle(handle).pointee.data = Unmanaged.passRetained(owner).toOpaque()
    return handle
}

/// Closes a handle; its memory and its owner's reference go in the callback.
func closeHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
    let base = baseHandle(handle)
    guard uv_is_closing(base) == 0 else { return }
    uv_close(base) { base in
        guard let base else { return }
        if let data = base.pointee.data { Unmanaged<AnyObject>.fromOpaque(data).release() }
        UnsafeMutableRawPointer(base).deallocate()
    }
}

/// Frees a handle whose init failed (it was never registered with the loop).
func discardHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
    if let data = baseHandle(handle).pointee.data { Unmanaged<AnyObject>.fromOpaque(data).release() }
    UnsafeMutableRawPointer(handle).deallocate()
}

func baseHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
}

func streamHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
}

/// The Swift owner stored in a handle's `data`.
func owner<Owner: AnyObject>(of handle: UnsafeMutablePointer<uv_handle_t>?, as type: Owner.Type) -> Owner? {
    guard let data = handle?.pointee.data else { return nil }
    return Unmanaged<AnyObject>.fromOpaque(data).takeUnretainedValue() as? Owner
}

func owner<Owner: AnyObject, Handle>(ofHandle handle: UnsafeMutablePointer<Handle>?, as type: Owner.Type) -> Owner? {
    guard let handle else { return nil }
    return owner(of: baseHandle(handle), as: type)
}

/// A libuv call failed.
public struct LoopError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public var description: String { "\(operation): \(String(cString: uv_strerror(code)))" }

    static func check(_ code: Int32, _ operation: String) throws {
        if code < 0 { throw LoopError(operation: operation, code: code) }
    }
}

/// A cursor over untrusted little-endian bytes. Every read checks that the
/// bytes exist first and reports what it was reading and where, so a
/// truncated or lying file gives an error instead of a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Checks that `count` bytes are left, without moving.
    func require(_ count: Int, for what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw GGUFError(.truncated, "\(what()) needs \(count) bytes at offset \(offset), "
                + "but only \(remaining) are left in the file")
        }
    }

    /// Checks that `count` items of at least `size` bytes each could fit in
    /// what is left, so a hostile count is refused before anything is allocated.
    func requireItems(_ count: UInt64, size: Int, for what: @autoclosure () -> String) throws {
        let (total, overflow) = count.multipliedReportingOverflow(by: UInt64(size))
        guard !overflow, total <= UInt64(remaining) else {
            throw GGUFError(.truncated, "\(what()) claims \(count) items (at least \(size) bytes each) "
                + "at offset \(offset), but only \(remaining) bytes are left in the file")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, for what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, for: what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(for what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, for: what()))
    }

    mutating func readDouble(for what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, for: what()))
    }

    /// Reads `count` raw bytes; the result points into the file.
    mutating func readBytes(_ count: Int, for what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try require(count, for: what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        offset += count
        return slice
    }

    /// Reads a GGUF string (u64 length, then bytes) and returns its bytes.
    mutating func readStringBytes(for what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let length = try read(UInt64.self, for: "length of \(what())")
        guard length <= UInt64(remaining) else {
            throw GGUFError(.truncated, "\(what()) has length \(length) at offset \(offset - 8), "
                + "but only \(remaining) bytes are left in the file")
        }
        return try readBytes(Int(length), for: what())
    }

    /// Reads a GGUF string. Invalid UTF-8 is repaired with U+FFFD rather than
    /// refused, as other readers do; the raw bytes are never trusted as text.
    mutating func readString(for what: @autoclosure () -> String) throws -> String {
        String(decoding: try readStringBytes(for: what()), as: UTF8.self)
    }

    /// Moves forward without reading, e.g. to the aligned start of tensor data.
    mutating func skip(_ count: Int, for what: @autoclosure () -> String) throws {
        try require(count, for: what())
        offset += count
    }
}

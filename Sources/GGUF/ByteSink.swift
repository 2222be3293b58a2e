#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the writer puts bytes: a file (streamed through a buffer) or memory.
protocol ByteSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    mutating func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }
}

struct MemorySink: ByteSink {
    var bytes: [UInt8] = []

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }
}

/// Writes through a 1 MiB buffer so a model of hundreds of megabytes never
/// sits in memory whole. The caller closes it; a failed write reports errno.
final class FileSink: ByteSink {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private static let bufferSize = 1 << 20

    init(creating path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw GGUFError(.io, "cannot create '\(path)': \(GGUFStorage.errnoText())")
        }
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferSize { try flush() }
        if bytes.count >= Self.bufferSize {
            try writeAll(bytes)  // big chunks skip the copy
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes; the file is complete only if this succeeds.
    func close() throws {
        defer { closeDescriptor(fd) }
        try flush()
        guard fsync(fd) == 0 else {
            throw GGUFError(.io, "cannot sync '\(path)': \(GGUFStorage.errnoText())")
        }
    }

    /// Closes without flushing, after a failure.
    func abandon() {
        closeDescriptor(fd)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = writeDescriptor(fd, next, left)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw GGUFError(.io, "cannot write '\(path)': \(GGUFStorage.errnoText())")
            }
            next += written
            left -= written
        }
    }
}

// The sink's own `close`/`write` methods shadow the C functions inside it.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
private func writeDescriptor(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }

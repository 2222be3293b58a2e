#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of one GGUF file: either a read-only memory mapping or an owned
/// copy (for files built in memory). Everything that points into the bytes
/// (tensor data, lazy metadata arrays) keeps this object alive.
final class GGUFStorage: @unchecked Sendable {
    // Safe to share: the bytes are never written after init.
    let bytes: UnsafeRawBufferPointer
    private let isMapped: Bool

    /// Maps `path` read-only. The descriptor is closed at once; the mapping
    /// stays valid until deinit.
    init(path: String) throws {
        // O_NONBLOCK: opening a FIFO (a config naming the wrong path) must
        // fail at the regular-file check below, not wait for a writer forever.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw GGUFError(.io, "cannot open '\(path)': \(Self.errnoText())") }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw GGUFError(.io, "cannot stat '\(path)': \(Self.errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(.io, "'\(path)' is not a regular file")
        }
        let size = Int(info.st_size)
        // mmap refuses length 0; an empty file is simply a truncated GGUF.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw GGUFError(.io, "cannot map '\(path)' (\(size) bytes): \(Self.errnoText())")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        isMapped = true
    }

    /// Copies `source` into memory aligned like a page start would be, so
    /// tensor data is as aligned as in a mapped file.
    init(copying source: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 64)
        buffer.copyBytes(from: source)
        bytes = UnsafeRawBufferPointer(buffer)
        isMapped = false
    }

    /// Drops the whole pages inside `offset..<offset + count` from this
    /// process's memory (madvise DONTNEED) when the bytes are a file
    /// mapping: reading them again faults them back in from the file, so
    /// nothing changes but the resident size. A copy is left alone (there,
    /// dropping would zero the bytes).
    func dropPages(offset: Int, count: Int) {
        guard isMapped, let base = bytes.baseAddress, offset >= 0, count > 0, offset <= bytes.count - count else { return }
        let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE))))
        let start = Int(bitPattern: base) + offset, end = start + count
        let first = (start + page - 1) / page * page, last = end / page * page
        guard first < last, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(address, last - first, Int32(MADV_DONTNEED))
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            base.deallocate()
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

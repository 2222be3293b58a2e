#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a model file was when a tier loaded it: which inode, how big,
/// when last written. A chmod or a new hard link leaves it the same.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedNanoseconds: Int64

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        modifiedNanoseconds = Int64(s.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(s.st_mtim.tv_nsec)
    }

    /// How this differs from `earlier`, in words, or nil if it does not.
    func difference(from earlier: FileIdentity) -> String? {
        if device != earlier.device || inode != earlier.inode { return "the path now names another file" }
        if size != earlier.size { return "size \(earlier.size) → \(size) bytes" }
        if modifiedNanoseconds != earlier.modifiedNanoseconds { return "written in place" }
        return nil
    }
}

/// A tier's model file, held open by moed (not the plugin) from before the
/// plugin opens it until the model closes. Checks go through this
/// descriptor, never the path: a file replaced by rename leaves the old
/// inode intact, and the tier keeps serving it, as it always did; a file
/// written or truncated in place is the same inode with another size or
/// mtime, and its mapped bytes can no longer be trusted.
/// Checked on the tier's lane, and by the loop while the lane is idle;
/// the mappings are noted once, on the load, before the loop sees it.
final class ModelFile: @unchecked Sendable {
    let path: String
    let identity: FileIdentity
    private let descriptor: Int32
    /// The address ranges where this inode is mapped, read once after the
    /// load, and their slots in the fault guard: a fault in this file is
    /// told from one in another tier's.
    private var mappings: [ClosedRange<UInt>] = []
    private var slots: [Int32] = []
    private var knowsMappings = false

    /// Nil when the path cannot be opened or is not a regular file: the
    /// plugin's open then fails and says why in its own words.
    init?(path: String) {
        // O_NONBLOCK: a FIFO at the path must not block the lane.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var s = stat()
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        self.path = path
        self.descriptor = fd
        self.identity = FileIdentity(s)
    }

    deinit {
        slots.forEach(FaultGuard.unwatch)
        close(descriptor)
    }

    /// How the held inode changed since the load, or nil.
    func change() -> String? {
        var s = stat()
        guard fstat(descriptor, &s) == 0 else { return "cannot stat the file: \(String(cString: strerror(errno)))" }
        return FileIdentity(s).difference(from: identity)
    }

    /// After the plugin's open: the path must still name the inode moed
    /// opened before it (else the plugin may have read another file, or
    /// half of one), unchanged, and no read of it may have faulted.
    func confirmLoaded(faultsSince mark: UInt64) throws {
        if let problem = pathProblem() ?? change() { throw StepError("model file changed during load (\(problem))") }
        noteMappings()
        if let problem = loadFault(since: mark) { throw StepError("model file changed during load (\(problem))") }
    }

    /// How what the path names now differs from the held file, or nil.
    private func pathProblem() -> String? {
        var s = stat()
        guard stat(path, &s) == 0 else { return "the path is gone: \(String(cString: strerror(errno)))" }
        return FileIdentity(s).difference(from: identity)
    }

    /// A mark for `problem(since:)`: the faults counted in this file's
    /// mappings (in any mapping, if they are not known).
    func faultCount() -> UInt64 {
        knowsMappings ? slots.reduce(0) { $0 &+ FaultGuard.count(in: $1) } : FaultGuard.count
    }

    /// Why bytes read from the model since `mark` (a `faultCount()`)
    /// cannot be trusted, or nil. An fstat and an atomic load or two:
    /// cheap enough for every step on the lane.
    func problem(since mark: UInt64) -> String? {
        if let change = change() { return change }
        // A fault in this file's pages with its identity unchanged (it was
        // truncated and grown back within one mtime tick) still fails the
        // work: zeros were read in place of weights.
        return faultCount() != mark ? "a read of the mapped file faulted" : nil
    }

    /// A fault during the load (`mark`: `FaultGuard.count` before it) in
    /// this file's pages, found in the guard's record of recent faults.
    /// Any fault counts when the mappings are unknown, or when the record
    /// lost some (more than 1024 since): the load is then tried again.
    private func loadFault(since mark: UInt64) -> String? {
        for n in mark..<FaultGuard.count {
            switch FaultGuard.address(ofFault: n) {
            case .known(let address) where !knowsMappings || mappings.contains(where: { $0.contains(address) }):
                return "a read of the mapped file faulted"
            case .lost:
                return "reads of mapped files faulted"
            case .known, .pending:
                continue
            }
        }
        return nil
    }

    /// Finds this inode's mappings in /proc/self/maps (once, after load).
    private func noteMappings() {
        guard let text = Self.readProcessMaps() else { return }
        let device = [Self.major(identity.device), Self.minor(identity.device)]
        for line in text.split(separator: "\n") {
            // start-end perms offset major:minor inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, UInt64(fields[4]) == identity.inode,
                  fields[3].split(separator: ":").compactMap({ UInt64($0, radix: 16) }) == device else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), start < end else { continue }
            mappings.append(start...(end - 1))
        }
        slots = mappings.compactMap(FaultGuard.watch)
        // Without a slot for every range, any fault is taken as this file's.
        knowsMappings = slots.count == mappings.count
    }

    // Linux's dev_t encoding, as /proc prints it (hex major:minor) (glibc's gnu_dev_major / gnu_dev_minor).
    private static func major(_ dev: UInt64) -> UInt64 { ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff) }
    private static func minor(_ dev: UInt64) -> UInt64 { (dev & 0xff) | ((dev >> 12) & ~0xff) }

    private static func readProcessMaps() -> String? {
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

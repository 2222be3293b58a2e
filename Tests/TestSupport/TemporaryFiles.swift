import Foundation

/// Unique paths under the system's temporary directory for files tests write.
/// The folder is this process's own and is removed when the process exits:
/// a run writes about 100 MiB of models here, and left behind they filled
/// the disk after a few dozen runs.
public enum TemporaryFiles {
    private static let directory: String = {
        let dir = NSTemporaryDirectory() + "moed-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TemporaryFiles.directory) }
        return dir
    }()
    private static let counter = Counter()

    /// `$TMPDIR` without its trailing slash, or /tmp: scripts/test.sh points
    /// it at a folder of the run's own and removes that at the end, so what
    /// daemons and helpers write there goes too.
    public static var systemFolder: String {
        let path = NSTemporaryDirectory()
        return path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    public static func path(_ name: String) -> String {
        "\(directory)/\(counter.next())-\(name)"
    }

    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }
}

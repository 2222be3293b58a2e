import Foundation

/// Unique paths under the system's temporary directory for files tests write.
public enum TemporaryFiles {
    private static let directory: String = {
        let dir = NSTemporaryDirectory() + "moed-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()
    private static let counter = Counter()

    public static func path(_ name: String) -> String {
        "\(directory)/\(counter.next())-\(name)"
    }

    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }
}

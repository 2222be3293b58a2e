import TestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where the build put the plugin `.so` files: beside the test binary.
enum TestPaths {
    static var buildDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false)
        // …/debug/moedPackageTests.xctest, or a bundle folder on other layouts.
        while let last = parts.last, !last.isEmpty {
            parts.removeLast()
            let directory = parts.joined(separator: "/")
            if access(directory + "/libmoe_toy.so", F_OK) == 0 { return directory }
        }
        return "."
    }

    static func plugin(_ name: String) -> String {
        buildDirectory + "/libmoe_\(name).so"
    }

    /// A fresh folder of this process's own (mode 0700 from mkdtemp), so
    /// files in it pass the loader's trust check whatever the umask; /tmp
    /// itself is world-writable and would not.
    static func privateDirectory() -> String {
        var template = Array((TemporaryFiles.systemFolder + "/moed-test-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { return "/nonexistent-mkdtemp-failed" }
        return String(cString: template)
    }

    private static let scratch = privateDirectory()

    /// Writes `contents` to a fresh file in a private folder and returns its path.
    static func temporaryFile(_ contents: String, suffix: String = ".txt") -> String {
        var template = Array("\(scratch)/file-XXXXXX\(suffix)".utf8CString)
        let fd = mkstemps(&template, Int32(suffix.utf8.count))
        let path = String(cString: template)
        _ = contents.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return path
    }
}

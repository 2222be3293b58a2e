import Service
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// moed --config PATH [--plugin-dir DIR]... [--allow-untrusted-config]
//
// Exit codes: 0 clean stop, 64 usage error, 78 bad config, 69 cannot
// listen or start (sysexits.h numbers, which systemd and scripts know).

SignalWatcher.prepareProcess()

func fail(_ message: String, code: Int32) -> Never {
    logRefusal(message)
    exit(code)
}

let usage = "usage: moed --config PATH [--plugin-dir DIR]... [--allow-untrusted-config] | moed --version"
var configPath: String?
// The config cannot vouch for itself, so accepting one that others can
// write is the command line's say, never the file's.
var allowsUntrustedConfig = false
var pluginDirectories: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--config", "-c":
        guard let value = arguments.next() else { fail("--config needs a path\n\(usage)", code: 64) }
        configPath = value
    case "--plugin-dir":
        guard let value = arguments.next() else { fail("--plugin-dir needs a directory\n\(usage)", code: 64) }
        pluginDirectories.append(value)
    case "--allow-untrusted-config":
        allowsUntrustedConfig = true
    case "--version":
        print("moed \(Daemon.version)")
        exit(0)
    case "--help", "-h":
        print(usage)
        exit(0)
    default:
        fail("unknown argument '\(argument)'\n\(usage)", code: 64)
    }
}
guard let configPath else { fail("missing --config PATH\n\(usage)", code: 64) }

/// The folder holding this executable: in a build folder the plugins sit
/// beside moed, so development needs no plugin_dir.
func executableDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
}

let configuration: Configuration
do {
    configuration = try Configuration.load(path: configPath, allowingUntrustedFile: allowsUntrustedConfig)
} catch {
    fail("config refused: \(error)", code: 78)
}

do {
    let daemon = try Daemon(configuration: configuration,
                            extraPluginDirectories: pluginDirectories + [executableDirectory()].compactMap { $0 },
                            allowingUntrustedConfig: allowsUntrustedConfig)
    try daemon.start()
    daemon.run()
} catch let error as ConfigError {
    fail("config refused: \(error)", code: 78)  // e.g. an admin_group that does not exist
} catch {
    fail("cannot start: \(error)", code: 69)
}

import Foundation
import Logging
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// moed's and moegate's one way to log: a line per message on stderr,
/// `label: [level: ]message key=value ...`. Under systemd (stderr is the
/// journal stream named by JOURNAL_STREAM) each line starts with its
/// syslog priority, `<3>` for errors to `<7>` for debug, which journald
/// turns into the entry's priority so `journalctl -p warning` filters.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let prefixesPriority: Bool

    public init(label: String, level: Logger.Level, prefixesPriority: Bool = StderrLogHandler.stderrIsJournal) {
        self.label = label
        self.logLevel = level
        self.prefixesPriority = prefixesPriority
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = format(event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })
        line += "\n"
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// One line, without the newline. Metadata keys are sorted so lines compare.
    public func format(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = prefixesPriority ? "<\(Self.syslogPriority(level))>" : ""
        line += label + ": "
        if level >= .warning { line += "\(level.rawValue): " }
        line += message
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoted("\(value)"))"
        }
        return line
    }

    /// syslog(3) priorities: err 3, warning 4, notice 5, info 6, debug 7.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A value with spaces, quotes or `=` is quoted, so `key=value` splits cleanly.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return value }
        var out = "\""
        for character in value {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    /// True when stderr is the stream systemd named in JOURNAL_STREAM
    /// (`device:inode`); a child that inherited the variable but writes
    /// elsewhere gets plain lines.
    public static let stderrIsJournal: Bool = {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }()
}

/// The process's logging setup: one level shared by every logger it makes,
/// changed at run time (a config reload) through `MoeLog.level`.
public enum MoeLog {
    nonisolated(unsafe) private static var currentLevel = Logger.Level.info
    private static let lock = NSLock()

    /// The level new and existing loggers made by `logger(_:)` honour.
    public static var level: Logger.Level {
        get { lock.withLock { currentLevel } }
        set { lock.withLock { currentLevel = newValue } }
    }

    /// A logger writing through StderrLogHandler at `MoeLog.level`, whatever
    /// LoggingSystem was bootstrapped with (so libraries and tests cannot redirect it).
    public static func logger(label: String) -> Logger {
        Logger(label: label) { label in LevelFollowingHandler(StderrLogHandler(label: label, level: .trace)) }
    }

    /// Parses a `log_level` value: trace, debug, info, notice, warning, error, critical.
    public static func parseLevel(_ text: String) -> Logger.Level? {
        Logger.Level(rawValue: text.lowercased())
    }
}

/// Reads the level from MoeLog on every call, so a reload changes every logger at once.
struct LevelFollowingHandler: LogHandler {
    var inner: StderrLogHandler
    init(_ inner: StderrLogHandler) { self.inner = inner }

    var logLevel: Logger.Level {
        get { MoeLog.level }
        set { MoeLog.level = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}

import PluginHost
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Configuration {
    /// Reads and validates the file at `path`. The file must pass `trust`
    /// (not writable by others, owned by root or moed's user, and so its
    /// directory) unless `allowingUntrustedFile` (moed's
    /// `--allow-untrusted-config`): the config names the code moed loads.
    public static func load(path: String, allowingUntrustedFile: Bool = false,
                            trust: FileTrust = .forThisProcess) throws -> Configuration {
        let file = try openTrusted(path: path, allowingUntrusted: allowingUntrustedFile, trust: trust)
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while case let count = fread(&chunk, 1, chunk.count, file), count > 0 {
            bytes += chunk[..<count]
            guard bytes.count <= 1 << 20 else {
                throw ConfigError(path: path, line: nil, key: nil, message: "larger than 1 MiB")
            }
        }
        guard let source = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(path: path, line: nil, key: nil, message: "not valid UTF-8")
        }
        return try parse(source, path: path)
    }

    /// Opens the real file behind `path` for reading, refusing what is not a
    /// trusted regular file. O_NONBLOCK and the regular-file check: a reload
    /// must never block the loop on a FIFO or a device named as the config.
    private static func openTrusted(path: String, allowingUntrusted: Bool,
                                    trust: FileTrust) throws -> UnsafeMutablePointer<FILE> {
        func refuse(_ message: String) -> ConfigError {
            ConfigError(path: path, line: nil, key: nil, message: message)
        }
        // The checked file is the opened one: resolved once, then no symlink followed.
        guard let realPath = FileTrust.realPath(path) else {
            throw refuse("cannot open: \(String(cString: strerror(errno)))")
        }
        let fd = open(realPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { throw refuse("cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw refuse("not a regular file")
        }
        if !allowingUntrusted, let doubt = trust.doubt(aboutFile: realPath, status: info) {
            close(fd)
            throw refuse("not trusted: \(doubt) (moed --allow-untrusted-config accepts it anyway)")
        }
        guard let file = fdopen(fd, "rb") else {
            close(fd)
            throw refuse("cannot open: \(String(cString: strerror(errno)))")
        }
        return file
    }

    /// Parses and validates config text; `path` only names it in errors.
    public static func parse(_ source: String, path: String) throws -> Configuration {
        let document = try TOMLParser(path: path).parse(source)
        var reader = TableReader(path: path)
        var daemon = DaemonSettings()
        var tiers: [TierSettings] = []
        for table in document.tables {
            if table.name.isEmpty {
                try reader.rejectAll(table.entries, in: "the top level (put settings under [daemon] or [tiers.NAME])")
            } else if table.name == "daemon" {
                daemon = try reader.daemon(table.entries)
            } else if table.name == "tiers" {
                try reader.rejectAll(table.entries, in: "[tiers] (use [tiers.NAME])")
            } else if table.name.hasPrefix("tiers.") {
                let name = String(table.name.dropFirst("tiers.".count))
                guard !name.contains(".") else {
                    throw ConfigError(path: path, line: table.line, key: nil, message: "table [\(table.name)] is nested too deep")
                }
                tiers.append(try reader.tier(name: name, line: table.line, table.entries))
            } else {
                throw ConfigError(path: path, line: table.line, key: nil, message: "unknown table [\(table.name)]")
            }
        }
        try validate(&daemon, tiers: tiers, document: document, path: path)
        return Configuration(path: path, daemon: daemon, tiers: tiers)
    }

    private static func validate(_ daemon: inout DaemonSettings, tiers: [TierSettings],
                                 document: TOMLDocument, path: String) throws {
        guard !tiers.isEmpty else {
            throw ConfigError(path: path, line: nil, key: nil, message: "no [tiers.NAME] table: at least one tier is needed")
        }
        if daemon.defaultTier.isEmpty {
            daemon.defaultTier = tiers[0].name
        } else if !tiers.contains(where: { $0.name == daemon.defaultTier }) {
            let line = document.table("daemon")?.entries.first { $0.key == "default_tier" }?.line
            throw ConfigError(path: path, line: line, key: "default_tier",
                              message: "no tier named '\(daemon.defaultTier)' (tiers: \(tiers.map(\.name).joined(separator: ", ")))")
        }
    }
}

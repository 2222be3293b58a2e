/// Why a plugin could not be loaded, naming the step that failed.
///
/// The loader checks each step in order (file, trust, dlopen, symbols,
/// probe, init, ABI version, table) and stops at the first failure.
public struct PluginLoadError: Error, Equatable, CustomStringConvertible {
    public enum Step: String, Equatable, Sendable {
        case fileMissing = "file missing"
        /// The file or its directory is writable or owned by someone other
        /// than root or moed's user (see `FileTrust`).
        case untrusted = "not trusted"
        case dlopenFailed = "dlopen failed"
        case symbolMissing = "symbol missing"
        case probeRefused = "probe refused"
        case initFailed = "init failed"
        case abiMismatch = "ABI version mismatch"
        case tableInvalid = "function table invalid"
    }

    /// The step that failed.
    public let step: Step
    /// The plugin file involved.
    public let path: String
    /// What the system or the plugin said.
    public let detail: String

    public init(step: Step, path: String, detail: String) {
        self.step = step
        self.path = path
        self.detail = detail
    }

    public var description: String {
        "plugin \(path): \(step.rawValue): \(detail)"
    }
}

/// A call into a loaded plugin failed; carries the plugin's own message.
public struct PluginCallError: Error, Equatable, CustomStringConvertible {
    /// The negative `moe_status` the plugin returned.
    public let code: Int32
    /// The table function that failed, e.g. "open".
    public let operation: String
    /// The plugin's `last_error()` text.
    public let message: String

    public init(code: Int32, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }

    public var description: String {
        "\(operation) failed (\(code)): \(message)"
    }
}

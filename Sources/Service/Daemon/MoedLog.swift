import Logging
import MoeLogging

/// moed's one logger: every diagnostic goes through it to stderr (the
/// journal under systemd, with priorities), leveled by `[daemon] log_level`.
/// Messages about one tier or request carry `tier=` / `request=` metadata.
let moedLog = MoeLog.logger(label: "moed")

extension DaemonSettings {
    /// Applies `log_level` to every logger in the process (at start and on reload).
    func applyLogLevel() {
        if let level = MoeLog.parseLevel(logLevel) { MoeLog.level = level }
    }
}

/// For moed's main: a refusal to start (usage, config, socket) goes through
/// the same logger, at error priority, before moed exits.
public func logRefusal(_ message: String) {
    moedLog.error("\(message)")
}

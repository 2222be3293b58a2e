import Logging
import MoeLogging
import Testing
@testable import Service

@Suite("Logs: levels, key=value metadata, journald priorities, [daemon] log_level")
struct LoggingTests {
    @Test("under the journal each line starts with its syslog priority; metadata follows as sorted key=value")
    func journalLines() {
        let journal = StderrLogHandler(label: "moed", level: .trace, prefixesPriority: true)
        #expect(journal.format(.info, "tier haiku ready", ["tier": "haiku", "request": "3/7"])
                == "<6>moed: tier haiku ready request=3/7 tier=haiku")
        #expect(journal.format(.warning, "slow", [:]) == "<4>moed: warning: slow")
        #expect(journal.format(.error, "failed", ["why": "no such file"]) == "<3>moed: error: failed why=\"no such file\"")
        #expect(journal.format(.debug, "x", [:]).hasPrefix("<7>"))
        #expect(journal.format(.notice, "x", [:]).hasPrefix("<5>"))
        let plain = StderrLogHandler(label: "moed", level: .trace, prefixesPriority: false)
        #expect(plain.format(.info, "listening", [:]) == "moed: listening")
    }

    @Test("JOURNAL_STREAM naming another file than stderr gives plain lines")
    func journalDetection() {
        // The test runner's stderr is not a journal stream (nor named by JOURNAL_STREAM here).
        #expect(StderrLogHandler.stderrIsJournal == false)
    }

    @Test("log_level takes swift-log's level names, any case, and refuses others naming the key")
    func configKey() throws {
        #expect(try ConnectionSettingsTests.daemon("").logLevel == "info")
        #expect(try ConnectionSettingsTests.daemon("log_level = \"Debug\"").logLevel == "debug")
        #expect(throws: ConfigError.self) { try ConnectionSettingsTests.daemon("log_level = \"loud\"") }
        do {
            _ = try ConnectionSettingsTests.daemon("log_level = \"loud\"")
        } catch {
            #expect("\(error)".contains("log_level"))
        }
    }
}

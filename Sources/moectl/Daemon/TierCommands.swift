import ArgumentParser
import MoeAPI
import MoeClient

/// `moectl load TIER`: load a tier's model now, showing progress.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load a tier's model in moed.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The tier to load.") var tier: String

    func run() throws {
        let status = try daemon.withClient { try tierCall($0, .load(tier: tier), json: daemon.json) }
        if !daemon.json { print("\(status.name): \(status.state.name) (\(formatBytes(status.memoryBytes)))") }
    }
}

/// `moectl unload TIER`: unload a tier once its streams finish.
struct UnloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unload", abstract: "Unload a tier's model in moed.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The tier to unload.") var tier: String

    func run() throws {
        let status = try daemon.withClient { try tierCall($0, .unload(tier: tier), json: daemon.json) }
        if !daemon.json { print("\(status.name): \(status.state.name)") }
    }
}

/// `moectl use TIER`: make TIER the default (loading it first).
struct UseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "use", abstract: "Make a tier the default; streams already running finish on the old one.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The tier to switch to.") var tier: String

    func run() throws {
        let status = try daemon.withClient { try tierCall($0, .use(tier: tier), json: daemon.json) }
        if !daemon.json { print("default tier: \(status.name) (\(status.state.name))") }
    }
}

/// Runs a call answered by load progress and a final TierStatus.
func tierCall(_ client: MoeClient, _ call: Call, json: Bool) throws -> TierStatus {
    var progress = ProgressLine()
    let final = try client.call(call) { _ = progress.handle($0) }
    progress.end()
    guard case .tier(let status) = final.result else { throw ClientError.connectionLost("no tier status in the answer") }
    if json { try printJSON(TierJSON(status)) }
    return status
}

func formatBytes(_ bytes: UInt64) -> String {
    let mib = Double(bytes) / 1_048_576
    return mib >= 1024 ? "\((mib / 1024 * 10).rounded() / 10) GiB" : "\((mib * 10).rounded() / 10) MiB"
}

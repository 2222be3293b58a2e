import ArgumentParser

/// `moectl`: the command-line client of moed, and the offline front end of
/// the inference core (run, tokenize, inspect, score) for people, scripts,
/// conformance checks and benchmarks.
@main
struct MoeCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moectl",
        abstract: "Drive the moed inference service, or run a GGUF model in-process.",
        subcommands: [
            // Offline verbs (in-process, no daemon).
            RunCommand.self, TokenizeCommand.self, ScoreCommand.self, InspectCommand.self, DequantizeCommand.self, UpcycleCommand.self,
            // Daemon verbs.
            StatusCommand.self, TiersCommand.self, PluginsCommand.self, LoadCommand.self, UnloadCommand.self,
            UseCommand.self, GenerateCommand.self, ChatCommand.self, StatsCommand.self, ReloadCommand.self,
        ]
    )
}

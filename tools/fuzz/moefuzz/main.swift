import Foundation
import FuzzTargets
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// moefuzz: the in-process fuzzers of tools/fuzz/run.sh (GGUF files and
// config text). `run` supervises workers; `worker` is what it spawns;
// `input` and `replay` turn a seed and case into a file and back into a run.

func replay(_ options: Options) throws -> Int32 {
    let runner = try SurfaceRunner(options)
    for file in options.files {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        switch runner.run(bytes) {
        case .accepted: print("\(file): accepted")
        case .refused(let why): print("\(file): refused: \(why.prefix(300))")
        }
    }
    return 0
}

func writeInput(_ options: Options) throws -> Int32 {
    let runner = try SurfaceRunner(options)
    try Data(runner.input(options.caseNumber)).write(to: URL(fileURLWithPath: options.out))
    return 0
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    switch options.mode {
    case "run":
        var supervisor = Supervisor(options)
        exit(try supervisor.run())
    case "worker": exit(runWorker(options))
    case "replay": exit(try replay(options))
    case "input": exit(try writeInput(options))
    default: throw UsageError(Options.usage)
    }
} catch {
    fputs("moefuzz: \(error)\n", stderr)
    exit(2)
}

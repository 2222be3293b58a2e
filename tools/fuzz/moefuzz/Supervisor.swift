import Foundation
import FuzzTargets
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs `cases` cases of one surface in worker processes, a batch each, so a
/// crash ends one worker, not the run. A worker that dies by a signal, exits
/// with an error, or sits on one case past the time limit leaves that case's
/// input (made again from seed and case number) under the out folder; the
/// run goes on from the next case.
struct Supervisor {
    let options: Options
    var finished: UInt64 = 0
    var accepted: UInt64 = 0
    var crashes: [UInt64] = []
    var hangs: [UInt64] = []

    init(_ options: Options) { self.options = options }

    var folder: String { options.out + "/" + options.surface }

    mutating func run() throws -> Int32 {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let runner = try SurfaceRunner(options)  // fail here, not in every worker, on bad flags
        // One progress file per run, mapped once: two runs on one out
        // folder do not share it, and it is never truncated under a reader.
        let progressPath = folder + "/.progress-\(getpid())"
        guard let progress = Progress(path: progressPath, create: true) else {
            throw UsageError("cannot map \(progressPath)")
        }
        defer { unlink(progressPath) }
        let started = Date()
        var next: UInt64 = 0
        while next < options.cases {
            let end = min(options.cases, next + options.batch)
            next = try runBatch(from: next, to: end, runner: runner, progress: progress, progressPath: progressPath)
        }
        report(seconds: Date().timeIntervalSince(started))
        return crashes.isEmpty && hangs.isEmpty ? 0 : 1
    }

    /// One worker for `from..<to`; returns where the next worker starts.
    private mutating func runBatch(from: UInt64, to: UInt64, runner: SurfaceRunner,
                                   progress: Progress, progressPath: String) throws -> UInt64 {
        progress.reset(current: from)
        let log = folder + "/worker.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        worker.arguments = ["worker", "--from", "\(from)", "--to", "\(to)", "--progress", progressPath] + options.inputFlags
        worker.standardError = FileHandle(forWritingAtPath: log)
        try worker.run()

        var lastBeat = progress.beat, lastChange = Date(), hung = false
        while worker.isRunning {
            usleep(20_000)
            if progress.beat != lastBeat {
                lastBeat = progress.beat
                lastChange = Date()
            } else if Date().timeIntervalSince(lastChange) * 1000 > Double(options.timeoutMilliseconds) {
                hung = true
                kill(worker.processIdentifier, SIGKILL)
                worker.waitUntilExit()
            }
        }
        finished += progress.finished
        accepted += progress.accepted
        if !hung && worker.terminationReason == .exit && worker.terminationStatus == 0 { return to }

        let index = progress.current
        let how = hung ? "hang: case ran longer than \(options.timeoutMilliseconds) ms"
            : worker.terminationReason == .uncaughtSignal ? "crash: signal \(worker.terminationStatus) (\(String(cString: strsignal(worker.terminationStatus))))"
            : "crash: worker exited with status \(worker.terminationStatus)"
        if hung { hangs.append(index) } else { crashes.append(index) }
        try save(index: index, runner: runner, how: how, log: log)
        return index + 1
    }

    /// Writes the input as `<kind>-seed<S>-case<N>.bin` and what happened
    /// (with the worker's last output) beside it as `.txt`.
    private func save(index: UInt64, runner: SurfaceRunner, how: String, log: String) throws {
        let stem = "\(folder)/\(how.hasPrefix("hang") ? "hang" : "crash")-seed\(options.seed)-case\(index)"
        let input = runner.input(index)
        try Data(input).write(to: URL(fileURLWithPath: stem + ".bin"))
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let note = """
            surface \(options.surface), seed \(options.seed), case \(index), \(input.count) bytes
            \(how)
            reproduce: moefuzz replay --surface \(options.surface) \(stem).bin
            worker output (last 60 lines):
            \(output.split(separator: "\n", omittingEmptySubsequences: false).suffix(60).joined(separator: "\n"))
            """
        try note.write(toFile: stem + ".txt", atomically: true, encoding: .utf8)
        print("moefuzz: \(options.surface) case \(index): \(how); saved \(stem).bin")
    }

    private func report(seconds: Double) {
        let rate = seconds > 0 ? Double(finished) / seconds : 0
        print(String(format: "%@: %llu cases (%llu accepted, %llu refused), %d crashes, %d hangs, %.1f s, %.0f cases/s, seed %llu",
                     options.surface, finished, accepted, finished - accepted, crashes.count, hangs.count, seconds, rate, options.seed))
    }
}

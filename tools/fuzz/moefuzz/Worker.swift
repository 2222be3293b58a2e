import FuzzTargets
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where a worker says how far it got, in a small file both processes map:
/// the case it is running, how many it finished and how many were taken
/// whole. A crash or hang leaves `current` naming the case that did it.
struct Progress {
    static let words = 4
    private let words: UnsafeMutablePointer<UInt64>

    /// Maps `path` shared, creating it zeroed.
    init?(path: String, create: Bool) {
        let fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let size = Self.words * 8
        guard ftruncate(fd, off_t(size)) == 0,
              let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), address != MAP_FAILED
        else { return nil }
        words = address.bindMemory(to: UInt64.self, capacity: Self.words)
    }

    /// Zeroes the counters for a new worker starting at `current`.
    func reset(current: UInt64) {
        (words[0], words[1], words[2], words[3]) = (current, 0, 0, 0)
    }

    var current: UInt64 { get { words[0] } nonmutating set { words[0] = newValue } }
    var finished: UInt64 { get { words[1] } nonmutating set { words[1] = newValue } }
    var accepted: UInt64 { get { words[2] } nonmutating set { words[2] = newValue } }
    /// Bumped before every case, so a supervisor sees a stuck case even when
    /// the same case number is run twice.
    var beat: UInt64 { get { words[3] } nonmutating set { words[3] = newValue } }
}

/// Runs cases `from..<to` of one surface in this process, recording progress.
func runWorker(_ options: Options) -> Int32 {
    guard let progressPath = options.progress, let progress = Progress(path: progressPath, create: false) else {
        fputs("moefuzz worker: --progress FILE is needed\n", stderr)
        return 2
    }
    do {
        let surface = try SurfaceRunner(options)
        for index in options.from..<options.to {
            progress.current = index
            progress.beat &+= 1
            selfTest(index)
            if surface.run(surface.input(index)) == .accepted { progress.accepted &+= 1 }
            progress.finished &+= 1
        }
        return 0
    } catch {
        fputs("moefuzz worker: \(error)\n", stderr)
        return 2
    }
}

/// A surface with its seeds, ready to make and run inputs.
struct SurfaceRunner {
    let seeds: [FuzzSeed]
    let seed: UInt64
    let run: ([UInt8]) -> FuzzOutcome
    let extra: ((inout [UInt8], inout FuzzRandom) -> Void)?

    init(_ options: Options) throws {
        seed = options.seed
        switch options.surface {
        case GGUFSurface.name:
            seeds = try GGUFSurface.seeds(realModel: options.model)
            run = GGUFSurface.run
            extra = GGUFSurface.extraMutation
        case ConfigSurface.name:
            seeds = try ConfigSurface.seeds(directory: options.corpus + "/config")
            run = ConfigSurface.run
            extra = ConfigSurface.extraMutation
        default:
            throw UsageError("unknown in-process surface '\(options.surface)' (gguf, config)")
        }
        guard !seeds.isEmpty else { throw UsageError("no seed inputs for \(options.surface)") }
    }

    func input(_ index: UInt64) -> [UInt8] {
        Mutator.input(seed: seed, index: index, seeds: seeds, extra: extra)
    }
}

/// MOEFUZZ_SELFTEST=crash:N or hang:N makes case N crash or hang, to check
/// that the supervisor saves it and goes on (tools/fuzz/run.sh --self-test).
func selfTest(_ index: UInt64) {
    guard let spec = getenv("MOEFUZZ_SELFTEST").map({ String(cString: $0) }) else { return }
    let parts = spec.split(separator: ":")
    guard parts.count == 2, UInt64(parts[1]) == index else { return }
    if parts[0] == "crash" { _ = [UInt64]()[Int(index)] }  // a bounds trap, as a bug would
    if parts[0] == "hang" { while true { pause() } }
}

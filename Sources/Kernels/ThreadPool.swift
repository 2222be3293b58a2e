import CKernels
import Glibc
import Synchronization

/// Persistent worker threads that split a loop over indices: the one place
/// in the engine where work is divided across cores.
///
/// A decode step calls `parallelFor` several times per layer, so waking the
/// workers must cost microseconds: a worker spins for a short while after each
/// job (catching the next one at once) and only then sleeps on a condition
/// variable. The calling thread takes chunks too.
///
/// Calls may come from any thread. A call made while the pool is busy (from
/// another thread, or from inside a `parallelFor` body) runs on the calling
/// thread alone instead of waiting, so nesting can never deadlock.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that work on each call, the caller included.
    public let threadCount: Int
    private let shared: PoolState
    private var threads: [pthread_t] = []

    /// A pool of `threadCount` threads (the caller counts as one, so
    /// `threadCount - 1` workers are started). Values below 1 mean 1.
    public init(threadCount: Int = ThreadPool.defaultThreadCount) {
        self.threadCount = max(1, min(threadCount, 1024))
        shared = PoolState(workers: self.threadCount - 1)
        for _ in 1..<self.threadCount {
            if let thread = shared.startWorker() { threads.append(thread) }
        }
        shared.workerCount = threads.count  // fewer if the OS refused a thread
    }

    /// One thread per online CPU.
    public static var defaultThreadCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    deinit {
        shared.stop()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Calls `body` on disjoint ranges that together cover `0..<count`
    /// exactly once, in parallel, and returns when all are done. Ranges hold
    /// at least `grain` indices (except the last), so cheap items can be batched.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        guard shared.workerCount > 0, count > grain, shared.tryBeginJob() else {
            body(0..<count)
            return
        }
        defer { shared.endJob() }
        // Several chunks per thread balance cores that are shared with other
        // processes; fewer would leave the caller waiting on a slow one. They
        // shrink from first to last, so the threads finish within about the
        // last, small chunk of each other (`guidedBounds`).
        let chunks = min(threadCount * ThreadPool.chunksPerThread, (count + grain - 1) / grain)
        withoutActuallyEscaping(body) { body in
            shared.run(count: count, chunks: chunks, grain: grain, body: body)
        }
    }

    /// Chunks a job is cut into per thread, at most.
    static let chunksPerThread = 4

    /// Fills `bounds[0...chunks]` with the boundaries of `chunks` runs that
    /// cover `0..<count` in order, largest first and shrinking linearly to
    /// the last (weights chunks, chunks − 1, …, 1), each but the last at
    /// least `grain` long and none empty. Threads that claim as they finish
    /// then end a job within about the last run of each other — 1/36 of it
    /// at two threads with four runs each — instead of within one of equal
    /// runs (1/8): a decode step's jobs are short, so the tail a thread spins
    /// through is a large part of them. Needs 1 ≤ chunks ≤ ⌈count / grain⌉.
    static func guidedBounds(_ count: Int, chunks: Int, grain: Int = 1, into bounds: UnsafeMutablePointer<Int>) {
        var start = 0, weightLeft = chunks * (chunks + 1) / 2
        bounds[0] = 0
        for k in 0..<chunks {
            let weight = chunks - k, later = chunks - k - 1
            // this run's share of what is left, at least `grain`, leaving
            // `grain` for each later run but the last and one for that
            let share = (count - start) * weight / weightLeft
            let leave = later == 0 ? 0 : (later - 1) * grain + 1
            let size = min(max(grain, share), count - start - leave)
            start += size
            weightLeft -= weight
            bounds[k + 1] = start
        }
        bounds[chunks] = count
    }

    /// `guidedBounds` as an array (for plans made once and kept).
    static func guidedBounds(_ count: Int, chunks: Int, grain: Int = 1) -> [Int] {
        let grain = max(1, grain)
        guard chunks > 1, count > grain else { return [0, count] }
        let chunks = min(chunks, (count + grain - 1) / grain)
        return [Int](unsafeUninitializedCapacity: chunks + 1) { buffer, initialized in
            guidedBounds(count, chunks: chunks, grain: grain, into: buffer.baseAddress!)
            initialized = chunks + 1
        }
    }
}

/// The state workers and the submitting thread share. Workers hold it (not
/// the pool), so the pool's deinit can stop and join them.
///
/// Chunks are claimed through one word holding the job number, its chunk
/// count and the next chunk, so a worker that wakes late can never take a chunk of a job other
/// than the one it saw, and the caller only waits for chunks to finish, not
/// for every worker to show up: a worker the OS has descheduled costs nothing.
final class PoolState: @unchecked Sendable {
    private let generation = Atomic<Int>(0)  // bumped once per job; workers wait for a change
    private let claim = Atomic<Int>(0)       // see ClaimWord
    private let finishedChunks = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let submitting = Atomic<Bool>(false)

    // Written by the submitter before it publishes a job; read by a worker
    // only while it holds an unfinished chunk, so the job is still live.
    private var body: ((Range<Int>) -> Void)?
    private let bounds: UnsafeMutablePointer<Int>  // chunk i is bounds[i]..<bounds[i + 1]
    private let boundsCapacity: Int
    private var chunkCount = 0  // the submitter's copy; workers read the claim word's
    var workerCount: Int

    // pthread objects must not move: allocated once, freed in deinit.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// Spin iterations (pause hints, ~40 ns each) before a worker sleeps:
    /// about 100 µs, longer than the gap between a layer's matrix products.
    private static let spinLimit = 2_500

    init(workers: Int) {
        workerCount = workers
        boundsCapacity = (workers + 1) * ThreadPool.chunksPerThread + 1
        bounds = .allocate(capacity: boundsCapacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
        bounds.deallocate()
    }

    func startWorker() -> pthread_t? {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<PoolState>.fromOpaque(context).takeRetainedValue().workerLoop()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<PoolState>.fromOpaque(context).release()
            return nil
        }
        return thread
    }

    func tryBeginJob() -> Bool {
        submitting.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    func endJob() { submitting.store(false, ordering: .releasing) }

    /// Runs `body` over `0..<count` in `chunks` guided chunks (at most the
    /// pool's `chunksPerThread` per thread), with the workers.
    func run(count: Int, chunks: Int, grain: Int, body: @escaping (Range<Int>) -> Void) {
        self.body = body
        chunkCount = max(1, min(chunks, boundsCapacity - 1, count))
        ThreadPool.guidedBounds(count, chunks: chunkCount, grain: grain, into: bounds)
        finishedChunks.store(0, ordering: .relaxed)
        let job = generation.load(ordering: .relaxed) &+ 1
        claim.store(ClaimWord.first(job: job, chunks: chunkCount), ordering: .relaxed)
        publish()  // sequentially consistent: orders everything above before the workers' loads
        runChunks(job: job)
        var spins = 0
        while finishedChunks.load(ordering: .acquiring) < chunkCount {
            spins += 1
            if spins < 20_000 { moe_cpu_relax() } else { sched_yield() }  // a worker lost its core mid-chunk
        }
        self.body = nil  // every chunk is finished, so no worker holds a copy
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        publish()
    }

    /// Bumps the generation and wakes sleeping workers. Sequentially
    /// consistent on both sides: either a worker about to sleep sees the new
    /// generation, or this sees it counted in `sleepers`.
    private func publish() {
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            seen = waitForGeneration(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            runChunks(job: seen)
        }
    }

    private func waitForGeneration(after seen: Int) -> Int {
        for _ in 0..<PoolState.spinLimit {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
            moe_cpu_relax()
        }
        sleepers.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        while generation.load(ordering: .sequentiallyConsistent) == seen {
            pthread_cond_wait(wake, mutex)
        }
        pthread_mutex_unlock(mutex)
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        return generation.load(ordering: .acquiring)
    }

    /// Claims and runs chunks of job `job` until none are left or another
    /// job has replaced it.
    private func runChunks(job: Int) {
        var word = claim.load(ordering: .acquiring)
        while ClaimWord.isJob(word, job) {
            let index = ClaimWord.next(word)
            if index >= ClaimWord.chunks(word) { return }
            let (exchanged, current) = claim.compareExchange(
                expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            guard exchanged else { word = current; continue }
            runChunk(index)
            finishedChunks.add(1, ordering: .releasing)
            word = claim.load(ordering: .acquiring)
        }
    }

    /// Runs one claimed chunk. Separate so the copy of `body` is released
    /// before the chunk is reported finished.
    private func runChunk(_ index: Int) {
        guard let body else { return }
        body(bounds[index]..<bounds[index + 1])
    }
}

/// One 64-bit word: job number (24 bits, wrapping) | chunk count (20 bits) |
/// next chunk (20 bits). A job never has more than 2^20 chunks because
/// `parallelFor` makes at most four per thread.
enum ClaimWord {
    static func first(job: Int, chunks: Int) -> Int { (job & 0xff_ffff) << 40 | chunks << 20 }
    static func isJob(_ word: Int, _ job: Int) -> Bool { word >> 40 == job & 0xff_ffff }
    static func chunks(_ word: Int) -> Int { (word >> 20) & 0xf_ffff }
    static func next(_ word: Int) -> Int { word & 0xf_ffff }
}

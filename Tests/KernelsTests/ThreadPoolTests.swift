import Synchronization
import Testing
@testable import Kernels

@Suite("Thread pool")
struct ThreadPoolTests {
    @Test("parallelFor visits every index exactly once", arguments: [1, 2, 3], [0, 1, 2, 7, 1000, 100_003])
    func visitsEveryIndexOnce(threads: Int, count: Int) {
        let pool = ThreadPool(threadCount: threads)
        #expect(pool.threadCount == threads)
        let visits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        defer { visits.deallocate() }
        visits.initialize(repeating: 0)
        pool.parallelFor(count) { range in
            for i in range { visits[i] += 1 }  // ranges are disjoint, so no race if the pool is right
        }
        #expect(visits.prefix(count).allSatisfy { $0 == 1 })
    }

    @Test("grain keeps ranges at least that long, except the last")
    func grain() {
        let pool = ThreadPool(threadCount: 2)
        let shortRanges = Atomic<Int>(0)
        pool.parallelFor(1000, grain: 64) { range in
            if range.count < 64 && range.upperBound != 1000 { shortRanges.add(1, ordering: .relaxed) }
        }
        #expect(shortRanges.load(ordering: .relaxed) == 0)
    }

    @Test("a job's chunks cover it in order, shrink, and keep the grain but for the last",
          arguments: [1, 4, 16])
    func guidedChunks(grain: Int) throws {
        for threads in [2, 3] {
            for count in [grain + 1, 2 * grain, 7 * grain + 3, 112, 1000, 19_000] where count > grain {
                let chunks = min(threads * ThreadPool.chunksPerThread, (count + grain - 1) / grain)
                let bounds = ThreadPool.guidedBounds(count, chunks: chunks, grain: grain)
                let sizes = zip(bounds.dropFirst(), bounds).map { $0 - $1 }
                try #require(sizes.count == chunks, "\(count) by \(grain): \(bounds)")
                #expect(bounds.first == 0 && bounds.last == count, "\(count) by \(grain): \(bounds)")
                #expect(sizes.allSatisfy { $0 >= 1 } && sizes.dropLast().allSatisfy { $0 >= grain },
                        "\(count) by \(grain): \(sizes)")
                #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $1 <= max($0 + 1, grain) }, "\(count): \(sizes)")
                // the tail a thread may wait through is far below an equal chunk's
                if count >= 36 * threads * grain {
                    #expect(sizes.last! * 2 * chunks < count, "\(count) by \(grain): last \(sizes.last!)")
                }
            }
        }
    }

    @Test("two threads really run at once")
    func usesWorkers() {
        let pool = ThreadPool(threadCount: 2)
        let inside = Atomic<Int>(0), sawBoth = Atomic<Bool>(false)
        for _ in 0..<200 where !sawBoth.load(ordering: .relaxed) {
            pool.parallelFor(2) { _ in
                inside.add(1, ordering: .sequentiallyConsistent)
                for _ in 0..<200_000 where !sawBoth.load(ordering: .relaxed) {
                    if inside.load(ordering: .sequentiallyConsistent) == 2 { sawBoth.store(true, ordering: .relaxed) }
                }
                inside.subtract(1, ordering: .sequentiallyConsistent)
            }
        }
        let overlapped = sawBoth.load(ordering: .relaxed)
        #expect(overlapped)
    }

    @Test("many small jobs in a row all complete (wake-up path)")
    func manyJobs() {
        let pool = ThreadPool(threadCount: 2)
        let total = Atomic<Int>(0)
        for _ in 0..<20_000 {
            pool.parallelFor(8) { range in total.add(range.count, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 160_000)
    }

    @Test("a nested call runs on the calling thread instead of deadlocking")
    func nested() {
        let pool = ThreadPool(threadCount: 2)
        let total = Atomic<Int>(0)
        pool.parallelFor(4) { outer in
            for _ in outer {
                pool.parallelFor(10) { inner in total.add(inner.count, ordering: .relaxed) }
            }
        }
        #expect(total.load(ordering: .relaxed) == 40)
    }

    @Test("pools can be made and dropped repeatedly (workers are joined)")
    func lifecycle() {
        for _ in 0..<50 {
            let pool = ThreadPool(threadCount: 2)
            let total = Atomic<Int>(0)
            pool.parallelFor(100) { total.add($0.count, ordering: .relaxed) }
            #expect(total.load(ordering: .relaxed) == 100)
        }
    }
}

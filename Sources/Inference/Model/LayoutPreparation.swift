import Foundation
import GGUF
import Kernels

/// The interleaved copies of a model's matrices (`Linear.interleavedCopy`),
/// made either during the load or after it, on a thread of its own, while
/// the model already serves from the mapped weights.
///
/// After load, each copy is made whole before it is installed, and is
/// installed only under the model's evaluate lock: by this thread when it
/// can take the lock at once, else by the next evaluate, which installs
/// every finished copy before it computes. Each matrix's mapped pages are
/// given back right after its swap, so the resident total stays at about
/// one copy of the weights (plus the one matrix being copied).
///
/// Then, with `ModelOptions.preparesExperts`, the routed experts of an MoE
/// model that no token has picked yet (`ExpertBank`), one expert at a time:
/// copied without the lock, installed under it, so a request is held up by
/// one install at most, and its first tokens do not pay for the copies.
final class LayoutPreparation: @unchecked Sendable {
    /// A matrix to copy, and the file range its mapped pages come from
    /// (nil for a part of a fused tensor, whose pages are shared).
    struct Item {
        let linear: Linear
        let tensor: GGUFTensorInfo?
    }

    private let file: GGUFFile
    private let ledger: CopyLedger
    /// The model's arena: the copies made during the load and on an expert's first pick.
    private let arena: WeightArena
    /// The copies this thread makes, on huge pages from their first write
    /// (`WeightArena`: no request waits on its faults).
    private let background: WeightArena
    /// Held by `Transformer.evaluate` for a whole pass, and by this
    /// thread while it swaps copies in.
    let evaluateLock = NSLock()
    private let queueLock = NSLock()
    // Guarded by queueLock.
    private var items: [Item]
    private var finished: [(Item, InterleavedWeights)] = []
    private var remaining: Int
    private var inFlightBytes = 0
    private var cancelled = false
    /// The MoE layers' expert banks (registered while the model is built;
    /// emptied by `start` when the experts are left to their first picks).
    private var banks: [ExpertBank] = []
    private let done = DispatchSemaphore(value: 0)

    init(file: GGUFFile, ledger: CopyLedger, arena: WeightArena) {
        self.file = file
        self.ledger = ledger
        self.arena = arena
        background = WeightArena(collapses: arena.collapses, faultsHugePages: true)
        items = []
        remaining = 0
    }

    /// A matrix to copy into its interleaved layout (while the model loads).
    func add(_ linear: Linear, pagesOf tensor: GGUFTensorInfo?) {
        guard linear.canInterleave else { return }
        queueLock.withLock {
            items.append(Item(linear: linear, tensor: tensor))
            remaining += 1
        }
    }

    /// An MoE layer's routed experts, to repack after load (`start(preparingExperts:)`).
    func add(experts bank: ExpertBank) {
        queueLock.withLock { banks.append(bank) }
    }

    /// Bytes of the dense matrices' copies still to make (whether to make
    /// them during the load: `ModelOptions.repackAfterLoadBytes`).
    var matrixByteCount: Int { queueLock.withLock { items.reduce(inFlightBytes) { $0 + $1.linear.byteCount } } }

    /// Bytes of the copies not yet finished (the one being made may be
    /// counted by the ledger as well), the pending experts' included.
    var byteCount: Int {
        queueLock.withLock {
            items.reduce(inFlightBytes) { $0 + $1.linear.byteCount } + banks.reduce(0) { $0 + $1.unsettled.bytes }
        }
    }

    /// Matrices not yet in their interleaved layout.
    var pendingCount: Int { queueLock.withLock { remaining } }

    /// Copies and installs every matrix now, on `pool`'s threads (a load
    /// that prepares its layout before it is ready); `start` still follows,
    /// for the experts.
    func runNow(pool: ThreadPool) {
        let all = queueLock.withLock { () -> [Item] in
            defer { items = [] }
            return items
        }
        for item in all {
            if let copy = item.linear.interleavedCopy(pool: pool, ledger: ledger, arena: arena) { install(item, copy) }
        }
        queueLock.withLock { remaining = 0 }
    }

    /// Starts the copies left (after `runNow`, only the experts', if any)
    /// on a background thread; with `preparingExperts` false, experts are
    /// repacked only on their first pick. The same thread then asks for the
    /// copies' huge pages (`WeightArena.collapse`); `wait` returns after.
    func start(preparingExperts: Bool) {
        let idle = queueLock.withLock { () -> Bool in
            if !preparingExperts { banks = [] }
            return items.isEmpty && banks.isEmpty
        }
        if idle && arena.isEmpty { done.signal(); return }
        background.expect(queueLock.withLock { () -> Int in
            let matrices = items.reduce(0) { $0 + $1.linear.byteCount }
            let experts = banks.reduce(0) { $0 + $1.unsettled.bytes }
            return WeightArena.footprint(matrices + experts, copies: items.count + banks.reduce(0) { $0 + 3 * $1.count })
        })
        let thread = Thread { [self] in work() }
        thread.name = "moed-layout"
        thread.start()
    }

    /// Stops after the matrix being copied (the model is going away).
    func cancel() { queueLock.withLock { cancelled = true } }

    /// Waits until every matrix is in its final layout.
    func wait() {
        done.wait()
        done.signal()  // a second wait does not block
    }

    /// Installs the copies finished so far; the caller holds `evaluateLock`.
    func installFinished() {
        let ready = queueLock.withLock { () -> [(Item, InterleavedWeights)] in
            defer { finished = [] }
            return finished
        }
        for (item, copy) in ready { install(item, copy) }
    }

    private func work() {
        while let item = nextItem() {
            let copy = item.linear.interleavedCopy(pool: nil, ledger: ledger, arena: background)
            queueLock.withLock {
                if let copy { finished.append((item, copy)) } else { remaining -= 1 }
                inFlightBytes = 0
            }
            if evaluateLock.try() {
                installFinished()
                evaluateLock.unlock()
            }
        }
        // the last copies, if an evaluate held the lock: wait for it
        evaluateLock.withLock { installFinished() }
        // the dense matrices first: every token reads them
        collapse()
        prepareExperts()
        collapse()
        done.signal()
    }

    /// Huge pages for the copies made so far (not the file's pages: the
    /// page cache has none for it without `CONFIG_READ_ONLY_THP_FOR_FS`):
    /// the load's and the first picks', and any of this thread's that did
    /// not get one at fault time (none free, memory not compacted).
    private func collapse() {
        if queueLock.withLock({ cancelled }) { return }
        arena.collapse()
        background.collapse()
    }

    /// Every expert not yet picked, copied here and installed under the
    /// evaluate lock (held for the install only).
    private func prepareExperts() {
        let banks = queueLock.withLock { self.banks }
        for bank in banks {
            for e in 0..<bank.count {
                if queueLock.withLock({ cancelled }) { return }
                if evaluateLock.withLock({ bank.isPending(e) }) {
                    let copies = bank.copies(e, pool: nil, into: background)
                    evaluateLock.withLock { bank.install(e, copies) }
                }
            }
        }
    }

    private func nextItem() -> Item? {
        queueLock.withLock {
            guard !cancelled, !items.isEmpty else { return nil }
            let item = items.removeFirst()
            inFlightBytes = item.linear.byteCount
            return item
        }
    }

    private func install(_ item: Item, _ copy: InterleavedWeights) {
        item.linear.weights.install(copy)
        if let tensor = item.tensor { file.dropPages(of: tensor) }
        queueLock.withLock { remaining -= 1 }
    }
}

import Kernels

/// Working memory for one MoE layer's batch: router outputs, the order in
/// which tokens visit experts, and every chosen expert's intermediate and
/// output rows, slot by slot.
///
/// Grown on demand to the largest batch seen, so a decoding model keeps a
/// few tens of kilobytes and only prompt processing pays for more. One per
/// model, shared by its MoE layers (`ExpertScratchShelf`): layers run one
/// after another, and a layer is done with it before the next starts.
final class ExpertScratch {
    private(set) var rowCapacity = 0
    private(set) var slotCapacity = 0
    private(set) var logits: UnsafeMutablePointer<Float>        // [rows × experts]
    private(set) var probabilities: UnsafeMutablePointer<Float> // [experts]
    private(set) var expertOutput: UnsafeMutablePointer<Float>  // [rows × embedding] (shared expert)
    private(set) var gate: UnsafeMutablePointer<Float>          // [slots × hidden]
    private(set) var up: UnsafeMutablePointer<Float>            // [slots × hidden]
    private(set) var down: UnsafeMutablePointer<Float>          // [slots × embedding]
    /// Token row of each slot (a slot is one (token, expert) pair), grouped by expert.
    private(set) var slotRow: UnsafeMutablePointer<Int>         // [slots]
    let width: Int
    let hidden: Int
    let experts: Int
    /// Quantized activations of the expert products (`MatmulContext.expertProducts`).
    let arena = ActivationArena()

    /// Token order grouped by expert (a counting sort, rebuilt every batch).
    var slotStart: [Int]        // [experts + 1] first slot of each expert
    var slotWeight: [Float] = []// [slots] routing weight of each slot
    private var nextSlot: [Int] // [experts] the counting sort's cursor
    private var active: [Int] = []  // experts with at least one slot, in order
    /// The expert passes' lists (`ExpertFeedForward.runExperts`), kept so a
    /// decode step allocates none.
    var products: [MatmulContext.ExpertProduct] = []
    var inputs: [MatmulContext.ExpertInput] = []

    init(width: Int, hidden: Int, experts: Int) {
        self.width = width
        self.hidden = hidden
        self.experts = experts
        logits = .allocate(capacity: 1)
        probabilities = .allocate(capacity: max(1, experts))
        expertOutput = .allocate(capacity: 1)
        gate = .allocate(capacity: 1)
        up = .allocate(capacity: 1)
        down = .allocate(capacity: 1)
        slotRow = .allocate(capacity: 1)
        slotStart = Array(repeating: 0, count: experts + 1)
        nextSlot = Array(repeating: 0, count: experts)
    }

    deinit {
        for p in [logits, probabilities, expertOutput, gate, up, down] { p.deallocate() }
        slotRow.deallocate()
    }

    /// Makes room for `rows` tokens.
    func reserve(rows: Int) {
        guard rows > rowCapacity else { return }
        logits.deallocate()
        expertOutput.deallocate()
        logits = .allocate(capacity: rows * max(1, experts))
        expertOutput = .allocate(capacity: rows * width)
        rowCapacity = rows
    }

    /// Makes room for `slots` (token, expert) pairs.
    private func reserve(slots: Int) {
        guard slots > slotCapacity else { return }
        for p in [gate, up, down] { p.deallocate() }
        slotRow.deallocate()
        gate = .allocate(capacity: slots * hidden)
        up = .allocate(capacity: slots * hidden)
        down = .allocate(capacity: slots * width)
        slotRow = .allocate(capacity: slots)
        slotWeight = Array(repeating: 0, count: slots)
        slotCapacity = slots
    }

    /// Groups every (token, expert) pair of `choices` by expert, so each
    /// expert's rows can be multiplied in one product.
    func group(_ choices: [ExpertChoice]) {
        for e in 0...experts { slotStart[e] = 0 }
        for c in choices { for e in c.experts { slotStart[e + 1] += 1 } }
        for e in 0..<experts { slotStart[e + 1] += slotStart[e] }
        reserve(slots: slotStart[experts])
        for e in 0..<experts { nextSlot[e] = slotStart[e] }
        active.removeAll(keepingCapacity: true)
        for e in 0..<experts where slotStart[e + 1] > slotStart[e] { active.append(e) }
        for (row, c) in choices.enumerated() {
            for (e, w) in zip(c.experts, c.weights) {
                slotRow[nextSlot[e]] = row
                slotWeight[nextSlot[e]] = w
                nextSlot[e] += 1
            }
        }
    }

    /// Experts with at least one slot in the batch last grouped, in expert order.
    func activeExperts() -> [Int] { active }

    /// Bytes held now.
    var byteCount: Int {
        let floats = rowCapacity * (max(1, experts) + width) + slotCapacity * (2 * hidden + width) + experts
        return floats * 4 + slotCapacity * (8 + 4) + arena.capacity
    }

    /// Slots of expert `e`.
    func slots(of e: Int) -> Range<Int> { slotStart[e]..<slotStart[e + 1] }
}

/// Hands every MoE layer of one model the same `ExpertScratch` (one is made
/// per shape; every layer of a model has the same one).
final class ExpertScratchShelf {
    private var made: [ExpertScratch] = []

    func scratch(width: Int, hidden: Int, experts: Int) -> ExpertScratch {
        if let s = made.first(where: { $0.width == width && $0.hidden == hidden && $0.experts == experts }) { return s }
        let s = ExpertScratch(width: width, hidden: hidden, experts: experts)
        made.append(s)
        return s
    }

    /// Bytes held by every scratch made here.
    var byteCount: Int { made.reduce(0) { $0 + $1.byteCount } }
}

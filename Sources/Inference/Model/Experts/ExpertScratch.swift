/// Working memory for one MoE layer's batch: router outputs, the order in
/// which tokens visit experts, and the rows gathered for one expert.
///
/// Grown on demand to the largest batch seen, so a decoding model keeps a
/// few kilobytes per layer and only prompt processing pays for more.
final class ExpertScratch {
    private(set) var rowCapacity = 0
    private(set) var logits: UnsafeMutablePointer<Float>        // [rows × experts]
    private(set) var probabilities: UnsafeMutablePointer<Float> // [experts]
    private(set) var gathered: UnsafeMutablePointer<Float>      // [rows × embedding]
    private(set) var expertOutput: UnsafeMutablePointer<Float>  // [rows × embedding]
    let width: Int
    let experts: Int

    /// Token order grouped by expert (a counting sort, rebuilt every batch).
    var slotStart: [Int]        // [experts + 1] first slot of each expert
    var slotRow: [Int] = []     // [rows × k] token row of each slot
    var slotWeight: [Float] = []// [rows × k] routing weight of each slot

    init(width: Int, experts: Int) {
        self.width = width
        self.experts = experts
        logits = .allocate(capacity: 1)
        probabilities = .allocate(capacity: max(1, experts))
        gathered = .allocate(capacity: 1)
        expertOutput = .allocate(capacity: 1)
        slotStart = Array(repeating: 0, count: experts + 1)
    }

    deinit {
        logits.deallocate()
        probabilities.deallocate()
        gathered.deallocate()
        expertOutput.deallocate()
    }

    /// Makes room for `rows` tokens.
    func reserve(rows: Int) {
        guard rows > rowCapacity else { return }
        logits.deallocate()
        gathered.deallocate()
        expertOutput.deallocate()
        logits = .allocate(capacity: rows * max(1, experts))
        gathered = .allocate(capacity: rows * width)
        expertOutput = .allocate(capacity: rows * width)
        rowCapacity = rows
    }

    /// Groups every (token, expert) pair of `choices` by expert, so each
    /// expert's rows can be gathered and multiplied in one product.
    func group(_ choices: [ExpertChoice]) {
        for e in 0...experts { slotStart[e] = 0 }
        for c in choices { for e in c.experts { slotStart[e + 1] += 1 } }
        for e in 0..<experts { slotStart[e + 1] += slotStart[e] }
        let total = slotStart[experts]
        if slotRow.count < total {
            slotRow = Array(repeating: 0, count: total)
            slotWeight = Array(repeating: 0, count: total)
        }
        var next = Array(slotStart.prefix(experts))
        for (row, c) in choices.enumerated() {
            for (e, w) in zip(c.experts, c.weights) {
                slotRow[next[e]] = row
                slotWeight[next[e]] = w
                next[e] += 1
            }
        }
    }
}

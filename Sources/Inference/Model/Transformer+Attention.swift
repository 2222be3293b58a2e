import Foundation
import Kernels

/// One piece of a layer's attention, run on one thread.
enum AttentionTask {
    /// One query head of a block of consecutive rows (the head-by-head and
    /// prompt-block kernels).
    case head(block: Int, head: Int)
    /// The query heads of one KV head for one decode row, over part `part`
    /// of `parts` of its cached rows; a split row's parts go to partial
    /// buffers from `slot` on and are merged after.
    case group(row: Int, kvHead: Int, part: Int, parts: Int, slot: Int)
}

extension Transformer {
    /// Causal grouped-query attention of every (token, head) over its
    /// sequence's cached positions first...position — first is 0, or the
    /// start of the sliding window in a local layer — split across threads.
    /// Consecutive prompt positions of one sequence that attend from the same
    /// first row go as blocks of up to `promptBlockRows` rows, which share
    /// each cached row read. A decode row (a block of one) over an F16 cache
    /// goes by KV head: the query heads of its group read each cached key and
    /// value once together (`VectorOps.attendGroup`), which in a decode step,
    /// the cache evicted by the step's weights, saves a group's worth of
    /// fetches from memory.
    func attend(layer: Int, batch: [BatchEntry]) {
        let h = hyperparameters, s = state, plan = plan
        let heads = h.headCount, size = h.headSize, qWidth = h.qWidth
        let group = h.headCount / h.kvHeadCount
        let type = cache.type, rowBytes = cache.rowBytes, headBytes = type.rowBytes(size)
        let keys = batch.map { UnsafeRawPointer(cache.keys(layer: layer, sequence: $0.sequence)) }
        let values = batch.map { UnsafeRawPointer(cache.values(layer: layer, sequence: $0.sequence)) }
        let positions = batch.map(\.position)
        let firsts = positions.map { plan.firstAttended(layer: layer, position: $0) }
        let blocks = Self.attentionBlocks(batch, firsts: firsts, rows: plan.softCap == nil ? Self.promptBlockRows : 1)
        let lengths = zip(positions, firsts).map { $0 - $1 + 1 }
        let groups = plan.softCap == nil && type == .f16 && group > 1 && Self.groupsDecodeAttention
        let (tasks, slots) = Self.attentionTasks(blocks, lengths: lengths, heads: heads, kvHeads: h.kvHeadCount,
                                                 groups: groups, threads: compute.pool.threadCount)
        let scratch = max(VectorOps.blockScratch(length: lengths.max() ?? 1, rows: Self.promptBlockRows),
                          groups ? group * (lengths.max() ?? 1) : 0)
        // split rows' parts: outputs (group × size each), then maxima and sums (group each)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, slots * group * (size + 2))) { partial in
            let parts = partial.baseAddress!, maxima = parts + slots * group * size, sums = maxima + slots * group
            compute.parallelFor(tasks.count) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: scratch) { scores in
                    for task in tasks[range] {
                        switch task {
                        case let .head(block, head):
                            let t = blocks[block].lowerBound, rows = blocks[block].count
                            let offset = firsts[t] * rowBytes + (head / group) * headBytes
                            let query = s.q + t * qWidth + head * size, out = s.attention + t * qWidth + head * size
                            // softmax(q·Kᵀ · scale) · V over the attended positions
                            if let cap = plan.softCap {  // an F32 cache (see `Transformer.init`)
                                attendHeadSoftCapped(query: query,
                                                     keys: (keys[t] + offset).assumingMemoryBound(to: Float.self),
                                                     values: (values[t] + offset).assumingMemoryBound(to: Float.self),
                                                     stride: rowBytes / MemoryLayout<Float>.size, length: lengths[t],
                                                     size: size, scale: plan.scoreScale, cap: cap,
                                                     scores: scores.baseAddress!, into: out)
                            } else {
                                VectorOps.attendBlock(type, query: query, queryStride: qWidth, rows: rows,
                                                      keys: keys[t] + offset, values: values[t] + offset,
                                                      strideBytes: rowBytes, length: lengths[t], size: size,
                                                      scale: plan.scoreScale, scores: scores.baseAddress!, into: out,
                                                      outStride: qWidth)
                            }
                        case let .group(t, kvHead, part, count, slot):
                            // rows from..<to of the row's attended ones, for its group's heads
                            let from = lengths[t] * part / count, to = lengths[t] * (part + 1) / count
                            let offset = (firsts[t] + from) * rowBytes + kvHead * headBytes
                            let at = t * qWidth + kvHead * group * size, whole = count == 1
                            VectorOps.attendGroup(query: s.q + at, group: group, keys: keys[t] + offset,
                                                  values: values[t] + offset, strideBytes: rowBytes, length: to - from,
                                                  size: size, scale: plan.scoreScale, scores: scores.baseAddress!,
                                                  into: whole ? s.attention + at : parts + (slot + part) * group * size,
                                                  maxima: whole ? nil : maxima + (slot + part) * group,
                                                  sums: whole ? nil : sums + (slot + part) * group)
                        }
                    }
                }
            }
            for case let .group(t, kvHead, part, count, slot) in tasks where count > 1 && part == 0 {
                VectorOps.mergeAttentionParts(count, heads: group, size: size, outputs: parts + slot * group * size,
                                              maxima: maxima + slot * group, sums: sums + slot * group,
                                              into: s.attention + t * qWidth + kvHead * group * size)
            }
        }
    }

    /// The layer's attention as tasks, and how many partial results split
    /// rows need. Without `groups` every block goes head by head. With it a
    /// decode row goes by KV head; when a step is only decode rows and they
    /// give the pool fewer than two tasks a thread (one SmolLM2 stream: three
    /// KV heads over two threads), each row's cached range is cut into parts
    /// of at least `minimumPartRows` rows so the threads share the work.
    static func attentionTasks(_ blocks: [Range<Int>], lengths: [Int], heads: Int, kvHeads: Int, groups: Bool,
                               threads: Int) -> (tasks: [AttentionTask], slots: Int) {
        var tasks: [AttentionTask] = [], slots = 0
        tasks.reserveCapacity(blocks.count * heads)
        let decodeOnly = groups && blocks.allSatisfy { $0.count == 1 }
        let wanted = decodeOnly && threads > 1 ? (2 * threads + blocks.count * kvHeads - 1) / (blocks.count * kvHeads) : 1
        for (index, block) in blocks.enumerated() {
            let t = block.lowerBound
            guard groups, block.count == 1 else {
                for head in 0..<heads { tasks.append(.head(block: index, head: head)) }
                continue
            }
            let parts = max(1, min(wanted, lengths[t] / minimumPartRows))
            for kvHead in 0..<kvHeads {
                for part in 0..<parts { tasks.append(.group(row: t, kvHead: kvHead, part: part, parts: parts, slot: slots)) }
                if parts > 1 { slots += parts }
            }
        }
        return (tasks, slots)
    }

    /// The fewest cached rows a part of a split decode row attends: below
    /// this, handing a part to another thread costs more than it saves.
    static let minimumPartRows = 64

    /// Whether decode rows attend by KV head (`attendGroup`);
    /// `MOED_DECODE_ATTENTION_GROUPS=0` sends them head by head as before,
    /// for comparisons. Read once per process.
    static let groupsDecodeAttention: Bool = {
        guard let value = getenv("MOED_DECODE_ATTENTION_GROUPS") else { return true }
        return String(cString: value) != "0"
    }()

    /// Rows per prompt-attention block: the AVX-512 F16 kernel's tile
    /// height; `MOED_PROMPT_ATTENTION_BLOCKS=0` makes every row its own block
    /// (the head-by-head kernel), for comparisons; read once per process.
    static let promptBlockRows: Int = {
        guard let value = getenv("MOED_PROMPT_ATTENTION_BLOCKS") else { return 4 }
        return String(cString: value) == "0" ? 1 : 4
    }()

    /// The batch cut into runs of at most `rows` entries of one sequence at
    /// consecutive positions with the same first attended row.
    static func attentionBlocks(_ batch: [BatchEntry], firsts: [Int], rows: Int) -> [Range<Int>] {
        var blocks: [Range<Int>] = [], start = 0
        for t in batch.indices where t > start {
            let continues = t - start < rows && batch[t].sequence == batch[t - 1].sequence
                && batch[t].position == batch[t - 1].position + 1 && firsts[t] == firsts[start]
            if !continues {
                blocks.append(start..<t)
                start = t
            }
        }
        if !batch.isEmpty { blocks.append(start..<batch.count) }
        return blocks
    }
}

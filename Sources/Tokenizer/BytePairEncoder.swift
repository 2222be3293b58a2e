// Byte-level BPE (GPT-2 style), as llama.cpp's llm_tokenizer_bpe_session:
// a word's bytes become byte-level characters, then the adjacent pair with
// the lowest merge rank is merged until no pair has a rank. Strings are
// interned to integer ids when the vocabulary loads, so the inner loop
// compares and hashes integers only.

struct BytePairEncoder: Sendable {
    private struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// (left id << 32 | right id) → rank and merged id.
    private let merges: [UInt64: Merge]
    /// Interned id of each byte's one-character spelling, or -1.
    private let byteSymbols: [Int32]
    /// Ids below this are token ids; above it, merge results that are not tokens.
    private let vocabularySize: Int32
    /// Token id of the one-byte strings "!"..."~", for llama.cpp's last-resort fallback.
    private let asciiTokens: [Int32]
    private let tokenIDs: [[UInt8]: Int32]

    init(tokenIDs: [[UInt8]: Int32], vocabularySize: Int, merges mergeLines: [String]) {
        var interned = ByteStringInterner(capacity: tokenIDs.count + mergeLines.count)
        for (text, id) in tokenIDs { text.withUnsafeBufferPointer { interned.insert($0, id: id) } }
        var nextID = Int32(vocabularySize)
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeLines.count)
        var joined: [UInt8] = []
        for (rank, line) in mergeLines.enumerated() {
            var line = line
            line.withUTF8 { bytes in
                // Split at the first space after the first byte, as llama.cpp does.
                guard bytes.count > 2, let space = bytes[1...].firstIndex(of: 0x20) else { return }
                let left = UnsafeBufferPointer(rebasing: bytes[..<space])
                let right = UnsafeBufferPointer(rebasing: bytes[(space + 1)...])
                let key = BytePairEncoder.key(interned.intern(left, next: &nextID), interned.intern(right, next: &nextID))
                guard merges[key] == nil else { return }
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: left)
                joined.append(contentsOf: right)
                let result = joined.withUnsafeBufferPointer { interned.intern($0, next: &nextID) }
                merges[key] = Merge(rank: Int32(rank), result: result)
            }
        }
        self.merges = merges
        self.byteSymbols = ByteLevel.scalarForByte.map { scalar in
            Array(String(scalar).utf8).withUnsafeBufferPointer { interned.id(of: $0) } ?? -1
        }
        self.vocabularySize = Int32(vocabularySize)
        self.asciiTokens = (0..<128).map { tokenIDs[[UInt8($0)]] ?? -1 }
        self.tokenIDs = tokenIDs
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    private struct Bigram: Comparable {
        let rank: Int32
        let left: Int
        let right: Int
        let leftID: Int32
        let rightID: Int32

        static func < (a: Bigram, b: Bigram) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.left < b.left
        }
    }

    /// Appends the tokens of one pre-tokenized word (raw UTF-8 bytes).
    func encode(word: ArraySlice<UInt8>, ignoringMerges: Bool, into output: inout [Int32]) {
        guard !word.isEmpty else { return }
        if ignoringMerges, let id = tokenIDs[Array(ByteLevel.encode(word).utf8)] {
            output.append(id)
            return
        }
        let bytes = Array(word)
        var ids = bytes.map { byteSymbols[Int($0)] }
        var lengths = [Int](repeating: 1, count: bytes.count)
        var next = Array(1...bytes.count)
        next[bytes.count - 1] = -1
        var prev = Array(-1..<(bytes.count - 1))
        var queue = PriorityQueue<Bigram>()

        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, ids[left] >= 0, ids[right] >= 0,
                  let merge = merges[BytePairEncoder.key(ids[left], ids[right])] else { return }
            queue.push(Bigram(rank: merge.rank, left: left, right: right, leftID: ids[left], rightID: ids[right]))
        }
        for i in 1..<max(bytes.count, 1) { consider(i - 1, i) }

        while let bigram = queue.pop() {
            // Skip pairs that changed since they were queued.
            guard ids[bigram.left] == bigram.leftID, ids[bigram.right] == bigram.rightID,
                  lengths[bigram.right] > 0,
                  let merge = merges[BytePairEncoder.key(bigram.leftID, bigram.rightID)] else { continue }
            ids[bigram.left] = merge.result
            lengths[bigram.left] += lengths[bigram.right]
            lengths[bigram.right] = 0
            ids[bigram.right] = -2
            next[bigram.left] = next[bigram.right]
            if next[bigram.right] >= 0 { prev[next[bigram.right]] = bigram.left }
            consider(prev[bigram.left], bigram.left)
            consider(bigram.left, next[bigram.left])
        }

        var i = 0
        while i >= 0 {
            let id = ids[i]
            if id >= 0 && id < vocabularySize {
                output.append(id)
            } else {
                // llama.cpp looks up each byte of the spelling alone; only
                // printable ASCII can match a one-byte token.
                for byte in bytes[i..<i + lengths[i]] where byte >= 0x21 && byte <= 0x7E {
                    let token = asciiTokens[Int(byte)]
                    if token >= 0 { output.append(token) }
                }
            }
            i = next[i]
        }
    }
}

// SentencePiece BPE as llama.cpp's llm_tokenizer_spm: start from UTF-8
// characters and repeatedly merge the adjacent pair whose concatenation is
// the highest-scoring token. Text that forms no token falls back to the
// <0xXX> byte tokens, or to the unknown token when those are missing.

struct SentencePieceEncoder: Sendable {
    private let tokenIDs: [[UInt8]: Int32]
    private let scores: [Float]
    private let byteTokens: [Int32]
    private let unknown: Int32?

    init(tokenIDs: [[UInt8]: Int32], scores: [Float], unknown: Int32?) {
        self.tokenIDs = tokenIDs
        self.scores = scores
        self.unknown = unknown
        let hex = Array("0123456789ABCDEF".utf8)
        self.byteTokens = (0..<256).map { byte in
            let spelled: [UInt8] = Array("<0x".utf8) + [hex[byte >> 4], hex[byte & 15], UInt8(ascii: ">")]
            // Some vocabularies have the raw byte instead of <0xXX>.
            return tokenIDs[spelled] ?? tokenIDs[[UInt8(byte)]] ?? -1
        }
    }

    private struct Bigram: Comparable {
        let score: Float
        let left: Int
        let right: Int
        let size: Int

        // Higher score first; on a tie the leftmost pair.
        static func < (a: Bigram, b: Bigram) -> Bool {
            a.score != b.score ? a.score > b.score : a.left < b.left
        }
    }

    /// Appends the tokens of `text`, whose spaces are already escaped as ▁.
    func encode(_ text: [UInt8], into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        // One symbol per UTF-8 character; a symbol is (start, length) in text.
        var starts: [Int] = []
        var lengths: [Int] = []
        var offset = 0
        while offset < text.count {
            let length = min(SentencePieceEncoder.utf8Length(text[offset]), text.count - offset)
            starts.append(offset)
            lengths.append(length)
            offset += length
        }
        let count = starts.count
        var next = Array(1...count)
        next[count - 1] = -1
        var prev = Array(-1..<(count - 1))
        var queue = PriorityQueue<Bigram>()

        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = lengths[left] + lengths[right]
            guard let id = tokenIDs[Array(text[starts[left]..<starts[left] + size])],
                  Int(id) < scores.count else { return }
            queue.push(Bigram(score: scores[Int(id)], left: left, right: right, size: size))
        }
        for i in 1..<max(count, 1) { consider(i - 1, i) }

        while let bigram = queue.pop() {
            // A pair is stale once either side has been merged into something else.
            guard lengths[bigram.left] > 0, lengths[bigram.right] > 0,
                  lengths[bigram.left] + lengths[bigram.right] == bigram.size else { continue }
            lengths[bigram.left] += lengths[bigram.right]
            lengths[bigram.right] = 0
            next[bigram.left] = next[bigram.right]
            if next[bigram.right] >= 0 { prev[next[bigram.right]] = bigram.left }
            consider(prev[bigram.left], bigram.left)
            consider(bigram.left, next[bigram.left])
        }

        var i = 0
        while i >= 0 {
            let piece = text[starts[i]..<starts[i] + lengths[i]]
            if let id = tokenIDs[Array(piece)] {
                output.append(id)
            } else {
                appendBytes(piece, into: &output)
            }
            i = next[i]
        }
    }

    private func appendBytes(_ piece: ArraySlice<UInt8>, into output: inout [Int32]) {
        for byte in piece {
            let token = byteTokens[Int(byte)]
            if token >= 0 {
                output.append(token)
            } else if let unknown {
                output.append(unknown)
            }
        }
    }

    /// Length of a UTF-8 sequence from its first byte, as llama.cpp's unicode_len_utf8.
    static func utf8Length(_ byte: UInt8) -> Int {
        switch byte >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}

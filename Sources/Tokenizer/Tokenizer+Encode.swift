// Text → tokens, as llama.cpp's llama_tokenize: special-token text is cut
// out first (tokenizer_st_partition), then each remaining text fragment is
// tokenized by the model's algorithm, with BOS/EOS around the whole.

extension Tokenizer {
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Tokenizes `text`.
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS where the model asks for them.
    ///   - parseSpecial: treat control-token text (e.g. "<|im_start|>") as
    ///     that token; user-defined tokens are always recognised, as in llama.cpp.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [Int32] {
        let bytes = Array(text.utf8)
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 2)
        if addSpecial && addsBOS, let bos { output.append(bos) }

        var previousWasSpecial = true
        for fragment in partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case let .token(id):
                output.append(id)
                previousWasSpecial = true
            case let .text(range):
                encodeFragment(bytes[range], afterSpecial: previousWasSpecial, into: &output)
                previousWasSpecial = false
            }
        }

        if addSpecial && addsEOS, let eos { output.append(eos) }
        return output
    }

    private func encodeFragment(_ bytes: ArraySlice<UInt8>, afterSpecial: Bool, into output: inout [Int32]) {
        if let sentencePieceEncoder {
            // SentencePiece: a space starts each fragment that follows a
            // special token (or the start), and spaces are spelled ▁.
            var escaped: [UInt8] = []
            escaped.reserveCapacity(bytes.count + 8)
            if addsSpacePrefix && afterSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
            for byte in bytes {
                if byte == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(byte) }
            }
            sentencePieceEncoder.encode(escaped, into: &output)
        } else if let bytePairEncoder, let preTokenizer {
            let decoded = UTF8Scalars(bytes)
            let text = ClassifiedText(decoded.scalars)
            let ignoresMerges = preTokenizer.ignoresMerges
            for word in preTokenizer.split(text) {
                let wordBytes = decoded.bytes[decoded.offsets[word.lowerBound]..<decoded.offsets[word.upperBound]]
                bytePairEncoder.encode(word: wordBytes, ignoringMerges: ignoresMerges, into: &output)
            }
        }
    }

    /// Cuts special-token text out of `bytes`, longest token first, the way
    /// llama.cpp's tokenizer_st_partition does.
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var present = [Bool](repeating: false, count: 256)
        for byte in bytes { present[Int(byte)] = true }

        var fragments: [Fragment] = [.text(0..<bytes.count)]
        for id in specialTokens {
            let type = tokenTypes[Int(id)]
            if !parseSpecial && (type == .control || type == .unknown) { continue }
            let needle = tokenTexts[Int(id)]
            guard let first = needle.first, present[Int(first)] else { continue }
            var next: [Fragment] = []
            for fragment in fragments {
                guard case let .text(range) = fragment else { next.append(fragment); continue }
                var start = range.lowerBound
                while let match = Tokenizer.find(needle, in: bytes, from: start, before: range.upperBound) {
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(id))
                    start = match + needle.count
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, before end: Int) -> Int? {
        let last = end - needle.count
        guard start <= last else { return nil }
        let first = needle[0]
        var i = start
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}

/// Code points of UTF-8 bytes with the byte offset of each one. Invalid
/// bytes become U+FFFD one byte at a time, as llama.cpp's decoder does.
struct UTF8Scalars {
    let bytes: ArraySlice<UInt8>
    private(set) var scalars: [Unicode.Scalar] = []
    /// offsets[i] is where scalar i starts; one extra entry marks the end.
    private(set) var offsets: [Int] = []

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        scalars.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            offsets.append(i)
            let (scalar, length) = UTF8Scalars.decode(bytes, at: i)
            scalars.append(scalar)
            i += length
        }
        offsets.append(bytes.endIndex)
    }

    static func decode(_ bytes: ArraySlice<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
        let lead = bytes[i]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length = SentencePieceEncoder.utf8Length(lead)
        guard length > 1, i + length <= bytes.endIndex else { return ("\u{FFFD}", 1) }
        var value = UInt32(lead) & (0xFF >> (length + 1))
        for j in 1..<length {
            let byte = bytes[i + j]
            guard byte & 0xC0 == 0x80 else { return ("\u{FFFD}", 1) }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard let scalar = Unicode.Scalar(value) else { return ("\u{FFFD}", 1) }
        return (scalar, length)
    }
}

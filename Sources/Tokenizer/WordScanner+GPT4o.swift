// The GPT-4o (o200k) split, also Llama 4's, and Mistral's Tekken variant:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}…\p{M}]*[\p{Ll}…\p{M}]+(contraction)?
//   |[^\r\n\p{L}\p{N}]?[\p{Lu}…\p{M}]+[\p{Ll}…\p{M}]*(contraction)?
//   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// as llama.cpp runs it: it rewrites the case classes as "a letter that is
// not a-z" / "not A-Z" over text where each non-ASCII code point stands for
// its category, so every non-ASCII letter counts as both upper and lower
// case. The scanner reproduces that, backtracking included.

extension WordScanner {
    private func isUpperish(_ i: Int) -> Bool {
        guard isLetter(i), let v = value(i) else { return false }
        return !(v >= 0x61 && v <= 0x7A)
    }

    private func isLowerish(_ i: Int) -> Bool {
        guard isLetter(i), let v = value(i) else { return false }
        return !(v >= 0x41 && v <= 0x5A)
    }

    /// End of a word matched by the two letter alternatives at pos, or nil.
    private func caseWordEnd(at pos: Int, contractions: Bool) -> Int? {
        var start = pos
        if !isLetter(pos) {
            // The optional prefix: one code point that is no letter, digit, CR or LF.
            guard range.contains(pos), !isNumber(pos), !isNewline(pos), isLetter(pos + 1) else { return nil }
            start = pos + 1
        }
        var upperEnd = start
        while isUpperish(upperEnd) { upperEnd += 1 }
        var end: Int
        if isLowerish(upperEnd) {
            end = upperEnd  // first alternative: upper* lower+
            while isLowerish(end) { end += 1 }
        } else if let k = (start..<upperEnd).last(where: isLowerish) {
            end = k + 1  // first alternative after giving back upper-case letters
        } else {
            end = upperEnd  // second alternative: upper+ lower*, with lower* empty here
        }
        if contractions { end += contractionLength(at: end, foldCase: true) }
        return end
    }

    mutating func scanGPT4o(contractions: Bool, maxDigits: Int, into out: inout [Range<Int>]) {
        var pos = range.lowerBound
        while pos < range.upperBound {
            if let end = caseWordEnd(at: pos, contractions: contractions) {
                pos = end
            } else if isNumber(pos) {
                var groupStart = pos
                while isNumber(pos) {
                    pos += 1
                    if pos - groupStart >= maxDigits {
                        emit(upTo: pos, into: &out)
                        groupStart = pos
                    }
                }
            } else if isOther(value(pos) == 0x20 ? pos + 1 : pos) {
                if value(pos) == 0x20 { pos += 1 }
                while isOther(pos) { pos += 1 }
                while isNewline(pos) || value(pos) == 0x2F { pos += 1 }
            } else {
                pos = llama3WhitespaceEnd(from: pos)
            }
            emit(upTo: pos, into: &out)
        }
    }
}

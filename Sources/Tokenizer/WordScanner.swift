// The GPT-2 and Llama 3 word splitters, written as scanners over code
// points. They follow the regex alternatives in order, the way llama.cpp's
// unicode_regex_split_custom_gpt2 / _llama3 do, including how a piece's end
// acts as end of text for the `\s+(?!\S)` look-ahead.

struct WordScanner {
    let text: ClassifiedText
    let range: Range<Int>
    private var start: Int

    init(text: ClassifiedText, range: Range<Int>) {
        self.text = text
        self.range = range
        self.start = range.lowerBound
    }

    // Positions outside the piece have no class and no character, so every
    // test fails there, like llama.cpp's OUT_OF_RANGE.
    func cls(_ i: Int) -> ScalarClass {
        range.contains(i) ? text.classes[i] : []
    }

    func value(_ i: Int) -> UInt32? {
        range.contains(i) ? text.scalars[i].value : nil
    }

    func isLetter(_ i: Int) -> Bool { cls(i).contains(.letter) }
    func isNumber(_ i: Int) -> Bool { cls(i).contains(.number) }
    func isSpace(_ i: Int) -> Bool { cls(i).contains(.whitespace) }
    func isOther(_ i: Int) -> Bool {
        range.contains(i) && cls(i).isDisjoint(with: [.letter, .number, .whitespace])
    }
    func isNewline(_ i: Int) -> Bool { value(i) == 0x0A || value(i) == 0x0D }

    mutating func emit(upTo end: Int, into out: inout [Range<Int>]) {
        if end > start { out.append(start..<end) }
        start = end
    }

    /// Length of an English contraction ('s 't 'm 'd 're 've 'll) at i, or 0.
    func contractionLength(at i: Int, foldCase: Bool) -> Int {
        guard value(i) == 0x27, i + 1 < range.upperBound else { return 0 }
        func letter(_ j: Int) -> UInt32 {
            guard let v = value(j) else { return 0 }
            // Only ASCII letters can complete a contraction, so ASCII folding suffices.
            return foldCase && v >= 0x41 && v <= 0x5A ? v + 0x20 : v
        }
        let next = letter(i + 1)
        if [0x73, 0x74, 0x6D, 0x64].contains(next) { return 2 }  // s t m d
        guard i + 2 < range.upperBound else { return 0 }
        let pair = (next, letter(i + 2))
        if pair == (0x72, 0x65) || pair == (0x76, 0x65) || pair == (0x6C, 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// After a whitespace run starting at pos: `\s+(?!\S)` leaves the last
    /// space for the next word unless the run reaches the end of the piece.
    func whitespaceEnd(from pos: Int) -> Int {
        var count = 0
        while isSpace(pos + count) { count += 1 }
        if count > 1 && pos + count < range.upperBound { return pos + count - 1 }
        return pos + max(count, 1)  // no class matched: one code point alone
    }

    mutating func scanGPT2(into out: inout [Range<Int>]) {
        var pos = range.lowerBound
        while pos < range.upperBound {
            let contraction = contractionLength(at: pos, foldCase: false)
            if contraction > 0 {
                pos += contraction
            } else {
                let lead = value(pos) == 0x20 ? pos + 1 : pos  // optional leading space
                if isLetter(lead) {
                    pos = lead
                    while isLetter(pos) { pos += 1 }
                } else if isNumber(lead) {
                    pos = lead
                    while isNumber(pos) { pos += 1 }
                } else if isOther(lead) {
                    pos = lead
                    while isOther(pos) { pos += 1 }
                } else {
                    pos = whitespaceEnd(from: pos)
                }
            }
            emit(upTo: pos, into: &out)
        }
    }

    mutating func scanLlama3(maxDigits: Int, into out: inout [Range<Int>]) {
        var pos = range.lowerBound
        while pos < range.upperBound {
            let contraction = contractionLength(at: pos, foldCase: true)
            if contraction > 0 {
                pos += contraction
            } else if !isNewline(pos) && !isNumber(pos) && (isLetter(pos) || isLetter(pos + 1)) {
                // [^\r\n\p{L}\p{N}]?\p{L}+
                pos += 1
                while isLetter(pos) { pos += 1 }
            } else if isNumber(pos) {
                // \p{N}{1,maxDigits}: each full group is its own word
                var groupStart = pos
                while isNumber(pos) {
                    pos += 1
                    if pos - groupStart >= maxDigits {
                        emit(upTo: pos, into: &out)
                        groupStart = pos
                    }
                }
            } else if isOther(value(pos) == 0x20 ? pos + 1 : pos) || (value(pos) == 0x20 && pos + 1 == range.upperBound) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`; a lone space at the piece end also lands here in llama.cpp
                if value(pos) == 0x20 { pos += 1 }
                while isOther(pos) { pos += 1 }
                while isNewline(pos) { pos += 1 }
            } else {
                pos = llama3WhitespaceEnd(from: pos)
            }
            emit(upTo: pos, into: &out)
        }
    }

    /// `\s*[\r\n]+` (up to the last newline of the run), else `\s+(?!\S)`, else `\s+`.
    func llama3WhitespaceEnd(from pos: Int) -> Int {
        var count = 0
        var afterLastNewline: Int?
        while isSpace(pos + count) {
            if isNewline(pos + count) { afterLastNewline = pos + count + 1 }
            count += 1
        }
        if let afterLastNewline { return afterLastNewline }
        return whitespaceEnd(from: pos)
    }
}

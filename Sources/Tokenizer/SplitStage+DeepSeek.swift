// Splits for the DeepSeek LLM / Coder / V3 (also Hunyuan dense) and BLOOM
// families: lists of simple regexes, each isolating its matches, written as
// scanners over code points. CJK ranges are DeepSeek's own:
// [一-龥ࠀ-一가-퟿] and [一-龥぀-ゟ゠-ヿ].

enum DeepSeekSplits {
    static func isCJKHangul(_ v: UInt32) -> Bool {
        (0x4E00...0x9FA5).contains(v) || (0x0800...0x4E00).contains(v) || (0xAC00...0xD7FF).contains(v)
    }

    static func isCJKKana(_ v: UInt32) -> Bool {
        (0x4E00...0x9FA5).contains(v) || (0x3040...0x309F).contains(v) || (0x30A0...0x30FF).contains(v)
    }

    static func isNewline(_ s: Unicode.Scalar, _ c: ScalarClass) -> Bool { s == "\r" || s == "\n" }

    // \s?[!-/:-~！-／：-～‘-‟　-。]+
    static func isDeepSeekPunctuation(_ s: Unicode.Scalar, _ c: ScalarClass) -> Bool {
        let v = s.value
        return (0x21...0x2F).contains(v) || (0x3A...0x7E).contains(v) || (0xFF01...0xFF0F).contains(v)
            || (0xFF1A...0xFF5E).contains(v) || (0x2018...0x201F).contains(v) || (0x3000...0x3002).contains(v)
    }

    // ` ?[^(\s|.,!?…。，、।۔،)]+`: the class excludes the brackets and bar too.
    static func isBloomWordCharacter(_ s: Unicode.Scalar, _ c: ScalarClass) -> Bool {
        !c.contains(.whitespace) && !"(|).,!?…。，、।۔،".unicodeScalars.contains(s)
    }

    static let llm: [SplitStage] = [
        .isolateEachMatching { isNewline($0, $1) },
        .prefixedRuns(optionalPrefix: { _, c in c.contains(.whitespace) }, body: { _, c in c.contains(.casedLetter) }),
        .prefixedRuns(optionalPrefix: { _, c in c.contains(.whitespace) }, body: { isDeepSeekPunctuation($0, $1) }),
        .trailingWhitespace,
        .isolateRuns { s, _ in isCJKHangul(s.value) },
        .isolateRuns { _, c in c.contains(.number) },
    ]

    static let coder: [SplitStage] = [
        .isolateEachMatching { isNewline($0, $1) },
        .prefixedRuns(optionalPrefix: { _, c in c.contains(.whitespace) }, body: { _, c in c.contains(.letter) }),
        .prefixedRuns(optionalPrefix: { _, c in c.contains(.whitespace) }, body: { _, c in c.contains(.punctuation) }),
        .isolateRuns { s, _ in isCJKHangul(s.value) },
        .isolateEach(.number),
    ]

    static let v3: [SplitStage] = [
        .numberGroups(maxDigits: 3),
        .isolateRuns { s, _ in isCJKKana(s.value) },
        .deepSeekV3,
    ]

    static let bloom: [SplitStage] = [
        .prefixedRuns(optionalPrefix: { s, _ in s == " " }, body: { isBloomWordCharacter($0, $1) }),
    ]

    static let viking: [SplitStage] = bloom + [.isolateEach(.number)]
}

extension WordScanner {
    /// `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
    /// | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    mutating func scanDeepSeekV3(into out: inout [Range<Int>]) {
        func isASCIILetter(_ i: Int) -> Bool {
            guard let v = value(i) else { return false }
            return (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
        }
        func isASCIIPunct(_ i: Int) -> Bool {
            guard let v = value(i) else { return false }
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        func isLetterOrMark(_ i: Int) -> Bool { !cls(i).isDisjoint(with: [.letter, .mark]) }
        func isPunctOrSymbol(_ i: Int) -> Bool { !cls(i).isDisjoint(with: [.punctuation, .symbol]) }
        // Code points no alternative matches (digits alone, …) stay together
        // as a gap between matches, as in any regex split.
        func matchEnd(_ pos: Int) -> Int? {
            var end = pos
            if isASCIIPunct(pos) && isASCIILetter(pos + 1) {
                end += 1
                while isASCIILetter(end) { end += 1 }
            } else if isLetterOrMark(pos) || (range.contains(pos) && !isNewline(pos) && !isLetter(pos)
                        && !isPunctOrSymbol(pos) && isLetterOrMark(pos + 1)) {
                if !isLetterOrMark(end) { end += 1 }
                while isLetterOrMark(end) { end += 1 }
            } else if isPunctOrSymbol(value(pos) == 0x20 ? pos + 1 : pos) {
                if value(end) == 0x20 { end += 1 }
                while isPunctOrSymbol(end) { end += 1 }
                while isNewline(end) { end += 1 }
            } else if isSpace(pos) {
                end = llama3WhitespaceEnd(from: pos)
            } else {
                return nil
            }
            return end
        }
        var pos = range.lowerBound
        while pos < range.upperBound {
            guard let end = matchEnd(pos) else {
                pos += 1
                continue
            }
            emit(upTo: pos, into: &out)
            emit(upTo: end, into: &out)
            pos = end
        }
        emit(upTo: range.upperBound, into: &out)
    }
}

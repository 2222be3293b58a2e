// Splitting text into words before BPE, chosen by `tokenizer.ggml.pre`.
// Each llama.cpp pre-tokenizer is a list of regexes applied in turn, each one
// re-splitting the pieces left by the one before. Here every regex is a
// hand-written scanner over code points (the same approach as llama.cpp's
// unicode.cpp custom splitters), because a general regex engine is too slow.

/// One splitting pass: turns each piece into smaller pieces.
enum SplitStage: Sendable {
    /// Every code point of the class is a piece of its own (regex `\p{N}`).
    case isolateEach(ScalarClass)
    /// Each run of code points accepted by the predicate is a piece.
    case isolateRuns(@Sendable (Unicode.Scalar, ScalarClass) -> Bool)
    /// Runs of ASCII digits are cut into threes (regex `[0-9][0-9][0-9]`).
    case asciiDigitTriples
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama 3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3(maxDigits: Int)
    /// GPT-4o / Llama 4 (contractions, digits in threes) and Tekken (neither):
    /// see WordScanner+GPT4o.swift.
    case gpt4o(contractions: Bool, maxDigits: Int)
    /// Each code point the predicate accepts is a piece of its own (`[\r\n]`).
    case isolateEachMatching(@Sendable (Unicode.Scalar, ScalarClass) -> Bool)
    /// `p?b+`: an optional code point accepted by `optionalPrefix`, then a run of `body`.
    case prefixedRuns(optionalPrefix: @Sendable (Unicode.Scalar, ScalarClass) -> Bool,
                      body: @Sendable (Unicode.Scalar, ScalarClass) -> Bool)
    /// `\s+$`: whitespace that ends the piece.
    case trailingWhitespace
    /// `\p{N}{1,n}`: runs of numbers cut into groups of up to n.
    case numberGroups(maxDigits: Int)
    /// DeepSeek V3's main expression (SplitStage+DeepSeek.swift).
    case deepSeekV3
}

/// A named pre-tokenizer and the behaviour llama.cpp ties to that name.
public struct PreTokenizer: Sendable {
    public let name: String
    let stages: [SplitStage]
    /// llama.cpp's `clean_spaces`: tidy " ," and " 's" when detokenizing.
    let cleansSpaces: Bool
    /// llama.cpp's `ignore_merges`: a word that is itself a token skips merging.
    let ignoresMerges: Bool
    /// BOS is added when the file does not say (llama3 family only).
    let addsBOSByDefault: Bool

    /// Resolves a `tokenizer.ggml.pre` value; nil means the key is missing
    /// and llama.cpp falls back to `default`. Unknown names are an error, as
    /// in llama.cpp.
    public init(named name: String?) throws {
        guard let name else {
            self.init(name: "default", family: .default, cleansSpaces: true)
            return
        }
        guard let entry = PreTokenizer.registry[name] else {
            throw TokenizerError(.unknownPreTokenizer(name))
        }
        self.init(name: name, family: entry.family, cleansSpaces: entry.cleansSpaces)
    }

    private init(name: String, family: Family, cleansSpaces: Bool) {
        self.name = name
        self.cleansSpaces = cleansSpaces
        self.ignoresMerges = family == .llama3 || family == .tekken
        self.addsBOSByDefault = family == .llama3 || family == .tekken
        self.stages = family.stages
    }

    /// Splits code points into word ranges.
    func split(_ text: ClassifiedText) -> [Range<Int>] {
        var pieces = text.count > 0 ? [0..<text.count] : []
        for stage in stages {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                stage.split(text, piece, into: &next)
            }
            pieces = next
        }
        return pieces
    }

    enum Family: Equatable {
        case `default`, gpt2, llama3, llama3Regex, qwen2, starCoder, falcon, gpt4o, tekken
        case deepSeekLLM, deepSeekCoder, deepSeekV3, bloom, viking

        var stages: [SplitStage] {
            switch self {
            case .default:
                return [
                    .isolateRuns { scalar, cls in
                        cls.contains(.punctuation) || "$+<=>^~|".unicodeScalars.contains(scalar)
                    },
                    .gpt2,
                    .isolateRuns { _, cls in cls.contains(.number) },
                    .asciiDigitTriples,
                ]
            case .falcon:
                return [
                    .isolateRuns { scalar, cls in
                        cls.contains(.punctuation) || "$+<=>^~|`".unicodeScalars.contains(scalar)
                    },
                    .gpt2,
                    .asciiDigitTriples,
                ]
            case .gpt2: return [.gpt2]
            case .llama3, .llama3Regex: return [.llama3(maxDigits: 3)]
            case .qwen2: return [.llama3(maxDigits: 1)]
            case .starCoder: return [.isolateEach(.number), .gpt2]
            case .gpt4o: return [.gpt4o(contractions: true, maxDigits: 3)]
            case .tekken: return [.gpt4o(contractions: false, maxDigits: 1)]
            case .deepSeekLLM: return DeepSeekSplits.llm
            case .deepSeekCoder: return DeepSeekSplits.coder
            case .deepSeekV3: return DeepSeekSplits.v3
            case .bloom: return DeepSeekSplits.bloom
            case .viking: return DeepSeekSplits.viking
            }
        }
    }

    /// Names llama.cpp accepts for the families implemented here, and
    /// whether it cleans spaces on detokenizing for that name.
    static let registry: [String: (family: Family, cleansSpaces: Bool)] = {
        var table: [String: (Family, Bool)] = ["default": (.default, true)]
        for name in ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                     "midm-2.0", "lfm2", "jina-v5-nano"] {
            table[name] = (.llama3, true)
        }
        table["falcon"] = (.falcon, true)
        for name in ["dbrx", "smaug-bpe", "chatglm-bpe", "glm4"] { table[name] = (.llama3Regex, true) }
        for name in ["gpt-4o", "llama4", "minimax-m2"] { table[name] = (.gpt4o, false) }
        table["tekken"] = (.tekken, false)
        table["deepseek-llm"] = (.deepSeekLLM, false)
        table["deepseek-coder"] = (.deepSeekCoder, false)
        for name in ["deepseek-v3", "hunyuan-dense"] { table[name] = (.deepSeekV3, false) }
        for name in ["bloom", "gpt3-finnish"] { table[name] = (.bloom, true) }
        table["poro-chat"] = (.bloom, false)
        table["viking"] = (.viking, false)
        for name in ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                     "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "exaone4"] {
            table[name] = (.gpt2, true)
        }
        for name in ["trillion", "granite-docling"] { table[name] = (.gpt2, false) }
        for name in ["starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"] {
            table[name] = (.starCoder, true)
        }
        for name in ["smollm", "command-r"] { table[name] = (.starCoder, false) }
        for name in ["stablelm2", "megrez"] { table[name] = (.qwen2, true) }
        for name in ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"] {
            table[name] = (.qwen2, false)
        }
        return table
    }()
}

extension SplitStage {
    func split(_ text: ClassifiedText, _ range: Range<Int>, into out: inout [Range<Int>]) {
        switch self {
        case let .isolateEach(cls):
            isolate(text, range, into: &out) { i in text.classes[i].contains(cls) ? 1 : 0 }
        case let .isolateRuns(accepts):
            isolate(text, range, into: &out) { i in
                var end = i
                while end < range.upperBound, accepts(text.scalars[end], text.classes[end]) { end += 1 }
                return end - i
            }
        case .asciiDigitTriples:
            isolate(text, range, into: &out) { i in
                guard i + 3 <= range.upperBound else { return 0 }
                let isDigit = (i..<i + 3).allSatisfy { text.scalars[$0].value >= 0x30 && text.scalars[$0].value <= 0x39 }
                return isDigit ? 3 : 0
            }
        case .gpt2:
            var scanner = WordScanner(text: text, range: range)
            scanner.scanGPT2(into: &out)
        case let .llama3(maxDigits):
            var scanner = WordScanner(text: text, range: range)
            scanner.scanLlama3(maxDigits: maxDigits, into: &out)
        case let .isolateEachMatching(accepts):
            isolate(text, range, into: &out) { i in accepts(text.scalars[i], text.classes[i]) ? 1 : 0 }
        case let .prefixedRuns(prefix, body):
            isolate(text, range, into: &out) { i in
                var start = i
                if prefix(text.scalars[i], text.classes[i]), i + 1 < range.upperBound,
                   body(text.scalars[i + 1], text.classes[i + 1]) { start = i + 1 }
                var end = start
                while end < range.upperBound, body(text.scalars[end], text.classes[end]) { end += 1 }
                return end > start ? end - i : 0
            }
        case .trailingWhitespace:
            var start = range.upperBound
            while start > range.lowerBound, text.classes[start - 1].contains(.whitespace) { start -= 1 }
            if start > range.lowerBound { out.append(range.lowerBound..<start) }
            if start < range.upperBound { out.append(start..<range.upperBound) }
        case let .numberGroups(maxDigits):
            isolate(text, range, into: &out) { i in
                var end = i
                while end < range.upperBound, end - i < maxDigits, text.classes[end].contains(.number) { end += 1 }
                return end - i
            }
        case .deepSeekV3:
            var scanner = WordScanner(text: text, range: range)
            scanner.scanDeepSeekV3(into: &out)
        case let .gpt4o(contractions, maxDigits):
            var scanner = WordScanner(text: text, range: range)
            scanner.scanGPT4o(contractions: contractions, maxDigits: maxDigits, into: &out)
        }
    }

    /// Regex-style isolation: `matchLength(i)` is the length of a match
    /// starting at i (0 for none); matches and the gaps between them become pieces.
    private func isolate(_ text: ClassifiedText, _ range: Range<Int>, into out: inout [Range<Int>],
                         matchLength: (Int) -> Int) {
        var gapStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            let length = matchLength(i)
            guard length > 0 else { i += 1; continue }
            if gapStart < i { out.append(gapStart..<i) }
            out.append(i..<i + length)
            i += length
            gapStart = i
        }
        if gapStart < range.upperBound { out.append(gapStart..<range.upperBound) }
    }
}

// Character classes the pre-tokenizers test, in the sense of llama.cpp's
// unicode_cpt_flags: \p{L}, \p{N}, \p{P}, \s. Computed from Swift's own
// Unicode tables (generalCategory, White_Space) instead of a copied table.

struct ScalarClass: OptionSet {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1 << 0)
    static let number = ScalarClass(rawValue: 1 << 1)
    static let whitespace = ScalarClass(rawValue: 1 << 2)
    static let punctuation = ScalarClass(rawValue: 1 << 3)
    static let mark = ScalarClass(rawValue: 1 << 4)     // \p{M}
    static let symbol = ScalarClass(rawValue: 1 << 5)   // \p{S}
    /// \p{Lu}, \p{Ll}, \p{Lt}: the letters DeepSeek's LLM split spells out as ranges.
    static let casedLetter = ScalarClass(rawValue: 1 << 6)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ scalar: Unicode.Scalar) {
        // ASCII is by far the common case; answer it without the property lookup.
        if scalar.value < 0x80 {
            self = ScalarClass.ascii[Int(scalar.value)]
            return
        }
        self = ScalarClass.classify(scalar)
    }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        var result: ScalarClass = []
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter:
            result.formUnion([.letter, .casedLetter])
        case .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            result.insert(.mark)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            result.insert(.symbol)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        if properties.isWhitespace {
            result.insert(.whitespace)
        }
        return result
    }

    private static let ascii: [ScalarClass] = (0..<128).map { value in
        classify(Unicode.Scalar(UInt8(value)))
    }
}

/// Code points of one piece of text with their classes, computed once.
struct ClassifiedText {
    let scalars: [Unicode.Scalar]
    let classes: [ScalarClass]

    init(_ scalars: [Unicode.Scalar]) {
        self.scalars = scalars
        self.classes = scalars.map(ScalarClass.init)
    }

    var count: Int { scalars.count }
}

/// GPT-2's reversible byte ↔ printable-character mapping: printable Latin-1
/// bytes stand for themselves, the rest are moved to U+0100 and up.
enum ByteLevel {
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [UInt32](repeating: 0, count: 256)
        var isDirect = [Bool](repeating: false, count: 256)
        for byte in 0x21...0x7E { isDirect[byte] = true }
        for byte in 0xA1...0xAC { isDirect[byte] = true }
        for byte in 0xAE...0xFF { isDirect[byte] = true }
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isDirect[byte] {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table.map { Unicode.Scalar($0)! }
    }()

    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in scalarForByte.enumerated() {
            map[scalar.value] = UInt8(byte)
        }
        return map
    }()

    /// The byte-level spelling of raw bytes, as the vocabulary stores it.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes { result.append(scalarForByte[Int(byte)]) }
        return String(result)
    }
}

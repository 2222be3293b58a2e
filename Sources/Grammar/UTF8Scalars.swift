/// UTF-8 as grammar matching needs it: bytes that may end mid-character.
enum UTF8Scalars {
    /// The scalars in `bytes` and the bytes of a trailing incomplete (but so
    /// far valid) character; nil if the bytes are not UTF-8.
    static func decode(_ bytes: [UInt8]) -> (scalars: [UInt32], rest: [UInt8])? {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            guard let length = sequenceLength(lead) else { return nil }
            if i + length > bytes.count {
                let rest = Array(bytes[i...])
                return isValidPrefix(rest) ? (scalars, rest) : nil
            }
            var value = length == 1 ? UInt32(lead) : UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<max(length, 1) {
                let b = bytes[i + k]
                guard b & 0xC0 == 0x80 else { return nil }
                value = value << 6 | UInt32(b & 0x3F)
            }
            guard isWellFormed(value, length: length) else { return nil }
            scalars.append(value)
            i += length
        }
        return (scalars, [])
    }

    /// The scalars an incomplete (valid-prefix) character can still become.
    static func completions(of prefix: [UInt8]) -> ClosedRange<UInt32> {
        let length = sequenceLength(prefix[0]) ?? 1
        var low = UInt32(prefix[0]) & (0xFF >> (length + 1))
        var high = low
        for k in 1..<length {
            let b = k < prefix.count ? UInt32(prefix[k] & 0x3F) : nil
            low = low << 6 | (b ?? 0)
            high = high << 6 | (b ?? 0x3F)
        }
        return max(low, length == 3 ? 0x800 : length == 4 ? 0x10000 : 0x80)...min(high, 0x10FFFF)
    }

    /// The UTF-8 lead byte of a scalar (monotonic in the scalar's value).
    static func leadByte(_ scalar: UInt32) -> UInt8 {
        switch scalar {
        case ..<0x80: UInt8(scalar)
        case ..<0x800: UInt8(0xC0 | (scalar >> 6))
        case ..<0x10000: UInt8(0xE0 | (scalar >> 12))
        default: UInt8(0xF0 | min(scalar >> 18, 4))
        }
    }

    /// The scalars outside `ranges`.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if r.lowerBound > next { result.append(next...(r.lowerBound - 1)) }
            if r.upperBound >= 0x10FFFF { return result }
            next = max(next, r.upperBound + 1)
        }
        result.append(next...0x10FFFF)
        return result
    }

    private static func sequenceLength(_ lead: UInt8) -> Int? {
        switch lead {
        case 0x00...0x7F: 1
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: nil
        }
    }

    private static func isWellFormed(_ value: UInt32, length: Int) -> Bool {
        switch length {
        case 2: value >= 0x80
        case 3: value >= 0x800 && !(0xD800...0xDFFF).contains(value)
        case 4: value >= 0x10000 && value <= 0x10FFFF
        default: true
        }
    }

    /// Whether an incomplete character could still become a scalar.
    private static func isValidPrefix(_ bytes: [UInt8]) -> Bool {
        guard let length = sequenceLength(bytes[0]), bytes.count < length else { return false }
        for b in bytes.dropFirst() where b & 0xC0 != 0x80 { return false }
        guard bytes.count >= 2 else { return true }
        let second = bytes[1]
        switch bytes[0] {
        case 0xE0: return second >= 0xA0          // no overlong
        case 0xED: return second < 0xA0           // no surrogates
        case 0xF0: return second >= 0x90          // no overlong
        case 0xF4: return second < 0x90           // not past U+10FFFF
        default: return true
        }
    }
}

/// Seeded mutations of byte strings, deterministic for (seed, case): case
/// `n` of a run gets the same input whichever batch or process runs it, so a
/// crash is reproduced from its seed and case number alone.

/// SplitMix64: small, fast, and the same on every platform.
public struct FuzzRandom {
    private var state: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        state = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
    public mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// One seed input and where its plausible length/count fields are: the
/// little-endian 32- and 64-bit words whose value is a small positive number
/// no larger than the bytes left after it (how GGUF stores string lengths,
/// array counts, tensor counts and dimensions).
public struct FuzzSeed {
    public let name: String
    public let bytes: [UInt8]
    let lengthFields: [(offset: Int, width: Int)]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        var fields: [(Int, Int)] = []
        for width in [4, 8] where bytes.count >= width {
            for offset in stride(from: 0, through: bytes.count - width, by: 1) {
                var value: UInt64 = 0
                for i in 0..<width { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
                if value > 0, value <= 1 << 20, value <= UInt64(bytes.count - offset) { fields.append((offset, width)) }
            }
        }
        // A big seed (a real vocabulary) has a few hundred thousand; an
        // even spread of them is as good and keeps the table small.
        let limit = 1 << 16
        lengthFields = fields.count <= limit ? fields
            : (0..<limit).map { fields[$0 * fields.count / limit] }
    }
}

public enum Mutator {
    /// Byte values that sit at edges: zero, all ones, the signed limits.
    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x22, 0x5B]
    /// Word values at integer edges, written little-endian at 4 or 8 bytes.
    static let interestingWords: [UInt64] = [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF,
        0xFFFF_FFFF_FFFF_FFFE, 1 << 20, 1 << 31 - 1, 4096, 65_536,
    ]

    /// The input of case `index` of a run with `seed`: one of `seeds`, with
    /// one to four mutations (`extra` adds text-aware ones for a surface).
    public static func input(seed: UInt64, index: UInt64, seeds: [FuzzSeed],
                             extra: ((inout [UInt8], inout FuzzRandom) -> Void)? = nil) -> [UInt8] {
        var random = FuzzRandom(seed: seed, stream: index &+ 1)
        let base = random.pick(seeds)
        var bytes = base.bytes
        for _ in 0...random.below(4) {
            mutate(&bytes, base: base, seeds: seeds, random: &random, extra: extra)
        }
        return bytes
    }

    static func mutate(_ bytes: inout [UInt8], base: FuzzSeed, seeds: [FuzzSeed], random: inout FuzzRandom,
                       extra: ((inout [UInt8], inout FuzzRandom) -> Void)?) {
        let kinds = extra == nil ? 8 : 10
        switch random.below(kinds) {
        case 0: flipBit(&bytes, &random)
        case 1: setInterestingByte(&bytes, &random)
        case 2: setInterestingWord(&bytes, at: random.below(bytes.count), &random)
        case 3: rewriteLengthField(&bytes, base: base, &random)
        case 4: truncate(&bytes, &random)
        case 5: splice(&bytes, with: random.pick(seeds).bytes, &random)
        case 6: duplicateChunk(&bytes, &random)
        case 7: for _ in 0..<(1 + random.below(16)) { flipBit(&bytes, &random) }
        default: extra?(&bytes, &random)
        }
    }

    static func flipBit(_ bytes: inout [UInt8], _ random: inout FuzzRandom) {
        guard !bytes.isEmpty else { return }
        bytes[random.below(bytes.count)] ^= 1 << UInt8(random.below(8))
    }

    static func setInterestingByte(_ bytes: inout [UInt8], _ random: inout FuzzRandom) {
        guard !bytes.isEmpty else { return }
        bytes[random.below(bytes.count)] = random.pick(interestingBytes)
    }

    static func setInterestingWord(_ bytes: inout [UInt8], at offset: Int, width: Int? = nil, _ random: inout FuzzRandom) {
        let width = width ?? random.pick([1, 2, 4, 8])
        guard offset >= 0, offset + width <= bytes.count else { return }
        var value = random.pick(interestingWords)
        if random.chance(4) { value = value &+ UInt64(bitPattern: Int64(random.below(5) - 2)) }
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// A length or count field set to an edge value, or nudged by a little,
    /// so the bytes after it are read as something else.
    static func rewriteLengthField(_ bytes: inout [UInt8], base: FuzzSeed, _ random: inout FuzzRandom) {
        guard !base.lengthFields.isEmpty else { return setInterestingWord(&bytes, at: random.below(bytes.count), &random) }
        let field = random.pick(base.lengthFields)
        guard field.offset + field.width <= bytes.count else { return }
        if random.chance(2) {
            return setInterestingWord(&bytes, at: field.offset, width: field.width, &random)
        }
        var value: UInt64 = 0
        for i in 0..<field.width { value |= UInt64(bytes[field.offset + i]) << (8 * UInt64(i)) }
        value = value &+ UInt64(bitPattern: Int64(random.below(9) - 4))
        if random.chance(3) { value = value &* 2 }
        for i in 0..<field.width { bytes[field.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    static func truncate(_ bytes: inout [UInt8], _ random: inout FuzzRandom) {
        bytes.removeSubrange(random.below(bytes.count + 1)...)
    }

    static func splice(_ bytes: inout [UInt8], with other: [UInt8], _ random: inout FuzzRandom) {
        let cut = random.below(bytes.count + 1), from = random.below(other.count + 1)
        bytes = Array(bytes[..<cut]) + other[from...]
    }

    static func duplicateChunk(_ bytes: inout [UInt8], _ random: inout FuzzRandom) {
        guard !bytes.isEmpty else { return }
        let start = random.below(bytes.count), length = 1 + random.below(min(256, bytes.count - start))
        let chunk = bytes[start..<start + length]
        bytes.insert(contentsOf: chunk, at: random.below(bytes.count + 1))
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A tiny deterministic "model" for testing the service in isolation.
///
/// The model file is text. An optional first line `#toy key=value …` sets
/// knobs; the rest is the text the model recites. Vocabulary: the 256
/// bytes, then BOS (256) and EOS (257). After the token at position p the
/// model strongly predicts byte `text[(p + 1) % text.count]`, or EOS once
/// p + 1 reaches `eos_after`. Each sequence must be fed positions in order,
/// so the service's bookkeeping is checked on every call.
final class ToyModel {
    static let vocabularySize = 258
    static let bos: Int32 = 256
    static let eos: Int32 = 257
    static let layers = 2

    struct Knobs {
        var loadMilliseconds = 0
        var stepMilliseconds = 0
        var weightBytes: UInt64?
        var eosAfter = Int.max
        var experts = 0
        var failOpen = false
        /// 0: the prefix-reuse entries answer MOE_ERR_UNSUPPORTED.
        var prefixReuse = true
    }

    let text: [UInt8]
    let knobs: Knobs
    let contextLength: Int
    private(set) var lengths: [Int32: Int] = [:]
    private var nextSequence: Int32 = 0
    private(set) var expertCounts: [UInt64]

    init(text: [UInt8], knobs: Knobs, contextLength: Int) {
        self.text = text.isEmpty ? Array("toy".utf8) : text
        self.knobs = knobs
        self.contextLength = contextLength
        self.expertCounts = Array(repeating: 0, count: Self.layers * knobs.experts)
    }

    /// Reads a toy model file: knobs line, then text.
    static func parse(_ bytes: [UInt8]) throws -> (Knobs, [UInt8]) {
        var knobs = Knobs()
        guard bytes.starts(with: Array("#toy".utf8)) else { return (knobs, bytes) }
        let newline = bytes.firstIndex(of: 10) ?? bytes.count
        let header = String(decoding: bytes[4..<newline], as: UTF8.self)
        for field in header.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = UInt64(parts[1]) else {
                throw ToyError.format("bad knob '\(field)'")
            }
            switch parts[0] {
            case "load_ms": knobs.loadMilliseconds = Int(min(value, 60_000))
            case "step_ms": knobs.stepMilliseconds = Int(min(value, 60_000))
            case "bytes": knobs.weightBytes = value
            case "eos_after": knobs.eosAfter = Int(min(value, UInt64(Int32.max)))
            case "experts": knobs.experts = Int(min(value, 64))
            case "fail_open": knobs.failOpen = value != 0
            case "prefix": knobs.prefixReuse = value != 0
            default: throw ToyError.format("unknown knob '\(parts[0])'")
            }
        }
        return (knobs, Array(bytes[min(newline + 1, bytes.count)...]))
    }

    func createSequence() -> Int32 {
        defer { nextSequence += 1 }
        lengths[nextSequence] = 0
        return nextSequence
    }

    func clear(_ sequence: Int32) throws {
        guard lengths[sequence] != nil else { throw ToyError.notFound("sequence \(sequence)") }
        lengths[sequence] = 0
    }

    func remove(_ sequence: Int32) throws {
        guard lengths.removeValue(forKey: sequence) != nil else {
            throw ToyError.notFound("sequence \(sequence)")
        }
    }

    /// Bytes a sequence "holds": 16 per position, as the estimate counts.
    static let bytesPerPosition = 16

    /// Prefix reuse: keeps the first `count` positions.
    func truncate(_ sequence: Int32, to count: Int) throws {
        try requirePrefixReuse()
        _ = try length(of: sequence, atLeast: count)
        lengths[sequence] = count
    }

    /// Prefix reuse: `destination` holds the first `count` positions of `source`.
    func copy(_ source: Int32, to destination: Int32, count: Int) throws {
        try requirePrefixReuse()
        _ = try length(of: source, atLeast: count)
        _ = try length(of: destination, atLeast: 0)
        lengths[destination] = count
    }

    func bytes(of sequence: Int32) throws -> UInt64 {
        try requirePrefixReuse()
        return UInt64(try length(of: sequence, atLeast: 0) * Self.bytesPerPosition)
    }

    private func requirePrefixReuse() throws {
        guard knobs.prefixReuse else { throw ToyError.unsupported("prefix=0 knob set") }
    }

    private func length(of sequence: Int32, atLeast count: Int) throws -> Int {
        guard let length = lengths[sequence] else { throw ToyError.notFound("sequence \(sequence)") }
        guard count <= length else { throw ToyError.invalid("sequence \(sequence) holds \(length) positions, not \(count)") }
        return length
    }

    /// Checks the whole batch first, so a failed call changes nothing.
    func evaluate(_ items: [ToyItem]) throws -> [[Float]] {
        var expected = lengths
        for item in items {
            guard let length = expected[item.sequence] else { throw ToyError.notFound("sequence \(item.sequence)") }
            guard item.position == length else {
                throw ToyError.invalid("sequence \(item.sequence) at position \(item.position), expected \(length)")
            }
            guard item.position < contextLength else { throw ToyError.invalid("context of \(contextLength) is full") }
            guard item.token >= 0, item.token < Int32(Self.vocabularySize) else {
                throw ToyError.invalid("token \(item.token) out of range")
            }
            expected[item.sequence] = length + 1
        }
        if knobs.stepMilliseconds > 0 { usleep(UInt32(knobs.stepMilliseconds * 1000)) }
        lengths = expected
        countExperts(items)
        return items.filter(\.wants).map { logits(after: Int($0.position)) }
    }

    private func logits(after position: Int) -> [Float] {
        var row = [Float](repeating: 0, count: Self.vocabularySize)
        let next = position + 1 >= knobs.eosAfter ? Int(Self.eos) : Int(text[(position + 1) % text.count])
        row[next] = 10
        return row
    }

    private func countExperts(_ items: [ToyItem]) {
        guard knobs.experts > 0 else { return }
        for item in items {
            for layer in 0..<Self.layers {
                expertCounts[layer * knobs.experts + (Int(item.token) + layer) % knobs.experts] += 1
            }
        }
    }
}

struct ToyItem {
    var token: Int32
    var position: Int32
    var sequence: Int32
    var wants: Bool
}

enum ToyError: Error {
    case format(String), notFound(String), invalid(String), io(String), unsupported(String)
}

import MoeAPI

/// moed's per-token log-probabilities in OpenAI's two shapes: chat's
/// `{"content": [{token, logprob, bytes, top_logprobs}]}` and the legacy
/// completions' parallel lists (`tokens`, `token_logprobs`, `top_logprobs`,
/// `text_offset`).
enum ChoiceLogprobs: Encodable {
    case chat(ChatLogprobs)
    case completion(CompletionLogprobs)

    func encode(to encoder: Encoder) throws {
        switch self {
        case .chat(let value): try value.encode(to: encoder)
        case .completion(let value): try value.encode(to: encoder)
        }
    }
}

/// OpenAI writes -9999 for a probability too small to have a finite log;
/// JSON has no infinity.
func finiteLogprob(_ value: Float) -> Double { value.isFinite ? Double(value) : -9999 }

/// A token as text: its bytes decoded, a piece that splits a character
/// shown with U+FFFD (its `bytes` keep the truth, as OpenAI's do).
func tokenText(_ piece: [UInt8]) -> String { String(decoding: piece, as: UTF8.self) }

struct ChatLogprobs: Encodable {
    struct Alternative: Encodable {
        var token: String
        var logprob: Double
        var bytes: [UInt8]
        init(_ entry: GenerateChunk.TokenLogprob) {
            token = tokenText(entry.piece)
            logprob = finiteLogprob(entry.logprob)
            bytes = entry.piece
        }
    }

    struct Entry: Encodable {
        var token: String
        var logprob: Double
        var bytes: [UInt8]
        var topLogprobs: [Alternative]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }

    var content: [Entry]

    init(_ entries: [GenerateChunk.TokenLogprob]) {
        content = entries.map { entry in
            let chosen = Alternative(entry)
            return Entry(token: chosen.token, logprob: chosen.logprob, bytes: chosen.bytes, topLogprobs: entry.top.map(Alternative.init))
        }
    }

    enum CodingKeys: String, CodingKey { case content, refusal }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(content, forKey: .content)
        try c.encodeNil(forKey: .refusal)
    }
}

struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Double] = []
    var topLogprobs: [[String: Double]] = []
    var textOffset: [Int] = []

    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }

    /// `offsets` counts the characters (Unicode scalars, as Python's `str`
    /// indexes) of the completion before each token; it carries over
    /// between the chunks of one stream.
    init(_ entries: [GenerateChunk.TokenLogprob], offsets: inout TextOffsets) {
        for entry in entries {
            tokens.append(tokenText(entry.piece))
            tokenLogprobs.append(finiteLogprob(entry.logprob))
            var top: [String: Double] = [:]
            for alternative in entry.top where top[tokenText(alternative.piece)] == nil {
                top[tokenText(alternative.piece)] = finiteLogprob(alternative.logprob)  // most likely first: keep the first of equal texts
            }
            topLogprobs.append(top)
            textOffset.append(offsets.next(entry.piece))
        }
    }
}

/// Where each token starts in the completion's text, in Unicode scalars:
/// a scalar starts at every UTF-8 byte that is not a continuation byte,
/// so a character split across two tokens is counted once.
struct TextOffsets {
    private var scalars = 0
    mutating func next(_ piece: [UInt8]) -> Int {
        defer { scalars += piece.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
        return scalars
    }
}

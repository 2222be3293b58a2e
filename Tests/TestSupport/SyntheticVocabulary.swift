import Foundation
import GGUF

/// A byte-level BPE vocabulary: the 256 byte tokens in GPT-2's byte→unicode
/// spelling, a few merges, and ChatML's special tokens — enough for real
/// prompts, chat templates and end-of-generation handling.
public struct SyntheticVocabulary {
    public let tokens: [String]
    public let types: [Int32]
    public let merges: [String]
    public let imStart: Int32
    public let imEnd: Int32
    public let endOfText: Int32

    public var count: Int { tokens.count }
    /// `tokenizer.ggml.pre` and `tokenizer.chat_template` as written (nil: key left out).
    public var preTokenizer = "smollm"
    public var chatTemplate: String? = SyntheticVocabulary.chatMLTemplate
    public var addsBOS = false

    /// `padding` extra control tokens after ChatML's (a vocabulary whose
    /// size is a multiple of eight, as the interleaved layouts want).
    public init(padding: Int = 0) {
        var tokens = (0..<256).map { String(Self.byteToUnicode[$0]) }
        let merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s"]
        for m in merges { tokens.append(m.replacingOccurrences(of: " ", with: "")) }
        endOfText = Int32(tokens.count); tokens.append("<|endoftext|>")
        imStart = Int32(tokens.count); tokens.append("<|im_start|>")
        imEnd = Int32(tokens.count); tokens.append("<|im_end|>")
        tokens += (0..<padding).map { "<|pad_\($0)|>" }
        self.tokens = tokens
        self.merges = merges
        types = tokens.indices.map { $0 >= 256 + merges.count ? 3 : 1 }  // 3: control, 1: normal
    }

    public static let chatMLTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    func addMetadata(to w: inout GGUFWriter) throws {
        try w.set("tokenizer.ggml.model", .string("gpt2"))
        try w.set("tokenizer.ggml.pre", .string(preTokenizer))
        try w.set("tokenizer.ggml.tokens", .array(GGUFArray(tokens)))
        try w.set("tokenizer.ggml.token_type", .array(GGUFArray(types)))
        try w.set("tokenizer.ggml.merges", .array(GGUFArray(merges)))
        try w.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(endOfText)))
        try w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(imEnd)))
        try w.set("tokenizer.ggml.add_bos_token", .bool(addsBOS))
        if let chatTemplate { try w.set("tokenizer.chat_template", .string(chatTemplate)) }
    }

    /// GPT-2's reversible byte→unicode table: printable bytes map to
    /// themselves, the rest to code points from 256 up.
    static let byteToUnicode: [Character] = {
        var printable = Set<Int>()
        for r in [33...126, 161...172, 174...255] { printable.formUnion(r) }
        var next = 256
        return (0..<256).map { b in
            if printable.contains(b) { return Character(Unicode.Scalar(UInt8(b))) }
            defer { next += 1 }
            return Character(Unicode.Scalar(UInt32(next))!)
        }
    }()
}

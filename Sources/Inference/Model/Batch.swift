import Foundation
import Kernels

/// One token to evaluate: which sequence it extends, at which position, and
/// whether its logits are wanted (only the last prompt token's usually are).
public struct BatchEntry: Sendable, Equatable {
    public var token: Int32
    public var position: Int
    public var sequence: Int32
    public var wantsLogits: Bool

    public init(token: Int32, position: Int, sequence: Int32 = 0, wantsLogits: Bool = false) {
        self.token = token
        self.position = position
        self.sequence = sequence
        self.wantsLogits = wantsLogits
    }

    /// A whole prompt for one sequence, starting at `start`, with logits for
    /// the last token (or for every token when `allLogits`).
    public static func prompt(_ tokens: [Int32], sequence: Int32 = 0, start: Int = 0, allLogits: Bool = false) -> [BatchEntry] {
        tokens.enumerated().map { i, t in
            BatchEntry(token: t, position: start + i, sequence: sequence,
                       wantsLogits: allLogits || i == tokens.count - 1)
        }
    }
}

/// Options that shape a loaded model's run state.
public struct ModelOptions: Sendable, Equatable {
    /// Threads for matrix products and attention.
    public var threads: Int
    /// Positions per sequence; 0 means the model's trained context length.
    public var contextLength: Int
    /// Most tokens evaluated in one pass; longer batches are split.
    public var maxBatch: Int
    /// Whether weight matrices whose kernels have an interleaved layout
    /// (Q4_1 with rows a multiple of 8) are copied into it at load; on by
    /// default, off when the environment sets `MOED_REPACK=0`.
    public var repacksWeights: Bool
    /// Element type of the KV cache (F16 unless asked otherwise).
    public var kvType: KVCacheType
    /// Repacks of more bytes than this run after the model is ready, on a
    /// thread of their own, while it serves from the mapped weights
    /// (`LayoutPreparation`); smaller ones run during the load, so the
    /// model computes in one layout from its first token. A repack at load
    /// costs about 0.35 ms a MB here (page faults and copying), so 96 MiB
    /// keeps SmolLM2 Q4_1's 94 MB (its Q4_1 matrices and tied Q8_0
    /// embedding) at load and sends SmolLM2 Q8_0's 136 MB after it: a
    /// switch to either stays under 100 ms (measured 95-103 ms for the Q8_0
    /// one with its copy made at load, 50-64 without a copy).
    /// `MOED_REPACK_AFTER_LOAD_MIB` overrides it (0: always after load).
    public var repackAfterLoadBytes: Int
    /// Whether an MoE model's routed experts are repacked on its layout
    /// thread once it is ready (on by default), or only on each expert's
    /// first pick, inside the forward pass that picks it (`ExpertBank`).
    public var preparesExperts: Bool

    public init(threads: Int = 1, contextLength: Int = 0, maxBatch: Int = 256,
                repacksWeights: Bool = ModelOptions.repackingDefault, kvType: KVCacheType = .standard,
                repackAfterLoadBytes: Int = ModelOptions.repackAfterLoadDefault, preparesExperts: Bool = true) {
        self.threads = max(1, threads)
        self.contextLength = max(0, contextLength)
        self.maxBatch = max(1, maxBatch)
        self.repacksWeights = repacksWeights
        self.kvType = kvType
        self.repackAfterLoadBytes = max(0, repackAfterLoadBytes)
        self.preparesExperts = preparesExperts
    }

    /// 96 MiB, or `MOED_REPACK_AFTER_LOAD_MIB` (read once per process).
    public static let repackAfterLoadDefault: Int = {
        guard let value = getenv("MOED_REPACK_AFTER_LOAD_MIB"), let mib = Int(String(cString: value)), mib >= 0 else {
            return 96 << 20
        }
        return mib << 20
    }()

    /// `MOED_REPACK=0` turns repacking off (for comparisons, and as an
    /// escape hatch); read once per process.
    public static let repackingDefault: Bool = {
        guard let value = getenv("MOED_REPACK") else { return true }
        return String(cString: value) != "0"
    }()
}

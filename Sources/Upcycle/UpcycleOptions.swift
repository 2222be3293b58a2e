import GGUF

/// What `Upcycler` makes of a dense model: how many experts, how many a
/// token uses, how the copies are perturbed, and how they are stored.
public struct UpcycleOptions: Sendable, Equatable {
    /// How expert weights are stored in the output file.
    public enum ExpertType: String, Sendable, CaseIterable {
        case f32, f16, q8_0
        /// The dense FFN's own type, bytes copied unchanged (needs noise 0
        /// unless that type is f32, f16 or q8_0).
        case same
    }

    /// Experts per layer (N).
    public var experts: Int
    /// Experts each token is routed to (k).
    public var expertsUsed: Int
    /// Standard deviation of the Gaussian noise added to each expert copy,
    /// relative to the RMS of the dense matrix it was copied from (0: exact copies).
    public var noise: Float
    /// Seeds the noise and the router, so the same options give the same file.
    public var seed: UInt64
    public var expertType: ExpertType

    /// llama.cpp's LLAMA_MAX_EXPERTS in the versions we test against.
    public static let maximumExperts = 256

    public init(experts: Int, expertsUsed: Int, noise: Float = 0, seed: UInt64 = 0, expertType: ExpertType = .same) {
        self.experts = experts
        self.expertsUsed = expertsUsed
        self.noise = noise
        self.seed = seed
        self.expertType = expertType
    }

    func validate() throws {
        guard experts >= 1, experts <= Self.maximumExperts else {
            throw UpcycleError("--experts \(experts) must be in 1...\(Self.maximumExperts)")
        }
        guard expertsUsed >= 1, expertsUsed <= experts else {
            throw UpcycleError("--experts-used \(expertsUsed) must be in 1...\(experts)")
        }
        guard noise >= 0, noise.isFinite else { throw UpcycleError("--noise \(noise) must be finite and ≥ 0") }
    }
}

/// Why an upcycle was refused, naming the option, key or tensor at fault.
public struct UpcycleError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What was written.
public struct UpcycleSummary: Sendable {
    public var layers: Int
    public var experts: Int
    public var expertsUsed: Int
    public var expertType: String
    public var tensors: Int
    public var fileBytes: Int
}

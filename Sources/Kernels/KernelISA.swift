import CKernels

/// An instruction-set level the kernels are compiled for. Every level has
/// the same kernels; higher ones are faster where the CPU has them.
public enum KernelISA: Int, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0
    case avx2 = 1    // AVX2 + FMA + F16C
    case avx512 = 2  // AVX-512 F + BW (and everything avx2 needs)

    /// The highest level this CPU and OS support (CPU features are read once).
    public static var best: KernelISA {
        KernelISA(rawValue: Int(moe_isa_best().rawValue)) ?? .scalar
    }

    /// Whether kernels of this level may run on this CPU.
    public var isSupported: Bool { rawValue <= KernelISA.best.rawValue }

    var cValue: moe_isa { moe_isa(rawValue: UInt32(rawValue)) }

    public var description: String {
        switch self {
        case .scalar: return "scalar"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }
}

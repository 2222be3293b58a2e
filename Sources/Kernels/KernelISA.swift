import CKernels

/// An instruction-set level the kernels are compiled for. Every level has
/// the same kernels; higher ones are faster where the CPU has them. Levels
/// are ordered: each needs everything the ones below it need.
public enum KernelISA: Int, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0
    case avx2 = 1        // AVX2 + FMA + F16C
    case avx512 = 2      // AVX-512 F + BW (and everything avx2 needs)
    case avx512vnni = 3  // AVX-512 VL + VNNI (vpdpbusd) on top of avx512

    /// The level the kernels run at: the highest this CPU and OS support,
    /// lowered by `MOED_KERNEL_ISA` (CPU features are read once).
    public static var best: KernelISA {
        KernelISA(rawValue: Int(moe_isa_best().rawValue)) ?? .scalar
    }

    /// The highest level this CPU offers, before any cap.
    public static var cpu: KernelISA {
        KernelISA(rawValue: Int(moe_isa_cpu().rawValue)) ?? .scalar
    }

    /// What `MOED_KERNEL_ISA` asks for.
    public enum Cap: Equatable, Sendable {
        case none
        case level(KernelISA)
        /// A value that names no level; it is ignored.
        case unknown
    }

    public static var cap: Cap {
        let raw = moe_isa_cap()
        if raw == -1 { return .none }
        guard raw >= 0, let level = KernelISA(rawValue: Int(raw)) else { return .unknown }
        return .level(level)
    }

    /// Whether kernels of this level may run on this CPU.
    public var isSupported: Bool { rawValue <= KernelISA.best.rawValue }

    var cValue: moe_isa { moe_isa(rawValue: UInt32(rawValue)) }

    /// The name `MOED_KERNEL_ISA` and `--isa` options take.
    public var description: String {
        moe_isa_name(cValue).map { String(cString: $0) } ?? "level \(rawValue)"
    }

    /// What a CPU must report for this level, as a person would say it.
    public var requirement: String {
        switch self {
        case .scalar: return "nothing"
        case .avx2: return "AVX2, FMA and F16C"
        case .avx512: return "AVX-512 F and BW"
        case .avx512vnni: return "AVX-512 VNNI (and VL)"
        }
    }

    /// The CPU features the kernels look at, each with whether this CPU (and
    /// OS) has it, in a fixed order.
    public static var cpuFeatures: [(name: String, present: Bool)] {
        var features: [(name: String, present: Bool)] = []
        var i: Int32 = 0
        while let name = moe_cpu_feature_name(i) {
            features.append((String(cString: name), moe_cpu_has(name) != 0))
            i += 1
        }
        return features
    }
}

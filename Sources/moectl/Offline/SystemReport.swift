import Foundation
import Kernels

/// `moectl inspect --system`: what the kernels see of this CPU — the
/// features they look at, the level the CPU offers, the `MOED_KERNEL_ISA`
/// cap and the level chosen — as the bench header and bug reports quote it.
struct SystemReport: Encodable {
    var cpu_features: [String: Bool]
    /// The highest kernel level the CPU offers.
    var cpu_isa: String
    /// `MOED_KERNEL_ISA` as set (nil when unset).
    var cap: String?
    /// Whether the cap names a level (an unknown name is ignored).
    var cap_valid: Bool?
    /// The level the kernels run at.
    var kernel_isa: String
    var levels: [String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let features = KernelISA.cpuFeatures
        cpu_features = Dictionary(features.map { ($0.name, $0.present) }, uniquingKeysWith: { a, _ in a })
        cpu_isa = "\(KernelISA.cpu)"
        cap = environment["MOED_KERNEL_ISA"]
        switch KernelISA.cap {
        case .none: cap_valid = nil
        case .level: cap_valid = true
        case .unknown: cap_valid = false
        }
        kernel_isa = "\(KernelISA.best)"
        levels = KernelISA.allCases.map { "\($0)" }
        orderedFeatures = features
    }

    private var orderedFeatures: [(name: String, present: Bool)]
    private enum CodingKeys: String, CodingKey { case cpu_features, cpu_isa, cap, cap_valid, kernel_isa, levels }

    func printHuman() {
        let present = orderedFeatures.filter(\.present).map(\.name)
        let missing = orderedFeatures.filter { !$0.present }.map(\.name)
        print("cpu features   \(present.isEmpty ? "none of those checked" : present.joined(separator: " "))"
            + (missing.isEmpty ? "" : "  (absent: \(missing.joined(separator: " ")))"))
        print("cpu offers     \(cpu_isa)")
        switch (cap, cap_valid) {
        case (nil, _):
            print("cap            none (MOED_KERNEL_ISA unset)")
        case (let value?, false?):
            print("cap            MOED_KERNEL_ISA=\(TerminalText.escaped(value)) names no level (\(levels.joined(separator: ", "))); ignored")
        case (let value?, _):
            print("cap            MOED_KERNEL_ISA=\(TerminalText.escaped(value))")
        }
        print("kernel isa     \(kernel_isa)")
    }
}

import Testing
@testable import Kernels

/// Runs a test at one level only where this CPU has it (and MOED_KERNEL_ISA
/// does not cap below it); elsewhere the test is reported skipped, saying why
/// (`what` names the instructions; the level's own requirement by default).
func needs(_ isa: KernelISA, _ what: String? = nil) -> ConditionTrait {
    let reason = isa.rawValue <= KernelISA.cpu.rawValue
        ? "skipped: MOED_KERNEL_ISA caps the kernels below \(isa)"
        : "skipped: this CPU has no \(what ?? isa.requirement)"
    return .enabled(if: isa.isSupported, Comment(rawValue: reason))
}

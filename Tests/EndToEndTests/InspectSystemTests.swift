import Foundation
import Testing
import TestSupport

/// `moectl inspect --system --json` of the real binary, with MOED_KERNEL_ISA
/// set (or not) in its environment.
private func systemReport(cap: String?) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Build.path("moectl"))
    process.arguments = ["inspect", "--system", "--json"]
    var environment = ProcessInfo.processInfo.environment
    environment["MOED_KERNEL_ISA"] = cap
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// The CPU flags the kernel reports in /proc/cpuinfo (Linux spells some
/// with an underscore: avx512_vnni, avx512_bf16).
private func cpuinfoFlags() throws -> Set<String> {
    let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("flags") })
    return Set(line.split(separator: ":")[1].split(separator: " ").map(String.init))
}

@Suite("moectl inspect --system")
struct InspectSystemTests {
    @Test("the features it reports are the ones /proc/cpuinfo lists")
    func featuresMatchCPUInfo() throws {
        let report = try systemReport(cap: nil)
        let features = try #require(report["cpu_features"] as? [String: Bool])
        let flags = try cpuinfoFlags()
        let spelled = ["avx512vnni": "avx512_vnni", "avx512bf16": "avx512_bf16", "avxvnni": "avx_vnni"]
        for name in ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avx512bf16"] {
            let has = try #require(features[name] as Bool?, "\(name) missing from \(features)")
            #expect(has == flags.contains(spelled[name] ?? name), "\(name)")
        }
        #expect(report["kernel_isa"] as? String == report["cpu_isa"] as? String)
        #expect(report["cap"] == nil)
    }

    @Test("MOED_KERNEL_ISA lowers the level to each one the CPU has, and never raises it")
    func capLowers() throws {
        let plain = try systemReport(cap: nil)
        let levels = try #require(plain["levels"] as? [String])
        #expect(levels == ["scalar", "avx2", "avx512", "avx512vnni"])
        let cpu = try #require(plain["cpu_isa"] as? String)
        let cpuRank = try #require(levels.firstIndex(of: cpu))
        for (rank, level) in levels.enumerated() {
            let report = try systemReport(cap: level)
            #expect(report["cap_valid"] as? Bool == true)
            #expect(report["cpu_isa"] as? String == cpu)
            #expect(report["kernel_isa"] as? String == levels[min(rank, cpuRank)], "cap \(level)")
        }
    }

    @Test("a cap that names no level is reported and ignored")
    func unknownCap() throws {
        let report = try systemReport(cap: "avx1024")
        #expect(report["cap"] as? String == "avx1024")
        #expect(report["cap_valid"] as? Bool == false)
        #expect(report["kernel_isa"] as? String == report["cpu_isa"] as? String)
    }
}

import CFaultGuard
import Foundation
import Testing

/// The SIGBUS guard on a real file mapping: reading a mapped page after
/// the file was truncated under it yields zeros and a counted fault
/// instead of killing the test process.
@Suite("SIGBUS guard")
struct FaultGuardTests {
    @Test("reading a mapped page past the end of a truncated file gives zeros and counts the fault")
    func truncatedMapping() throws {
        #expect(moe_fault_guard_install() == 0)
        #expect(moe_fault_guard_install() == 0)  // a second install changes nothing
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let path = NSTemporaryDirectory() + "fault-guard-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { unlink(path) }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = [UInt8](repeating: 0xAB, count: 3 * page)
        try #require(write(fd, bytes, bytes.count) == bytes.count)
        let mapped = try #require(mmap(nil, bytes.count, PROT_READ, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(mapped, bytes.count) }
        #expect(mapped.load(fromByteOffset: 2 * page + 5, as: UInt8.self) == 0xAB)

        let slot = moe_fault_guard_watch(UInt(bitPattern: mapped), UInt(bitPattern: mapped) + UInt(bytes.count))
        try #require(slot >= 0)
        defer { moe_fault_guard_unwatch(slot) }

        try #require(ftruncate(fd, off_t(page)) == 0)
        let before = moe_fault_guard_count()
        // Past the new end: without the guard this read is a SIGBUS.
        let past = (0..<4).map { mapped.load(fromByteOffset: page + $0 * 997, as: UInt8.self) }
        let after = moe_fault_guard_count()
        #expect(past == [0, 0, 0, 0])
        // One fault: the zero page then stands in for the whole page. Other
        // tests in this process may fault meanwhile, in their own mappings.
        #expect(moe_fault_guard_count_in(slot) == 1)
        #expect(after > before)
        let addresses = (before..<after).compactMap { n -> UInt? in
            var address: UInt = 0
            return moe_fault_guard_address(n, &address) == 1 ? address : nil
        }
        #expect(addresses.contains(UInt(bitPattern: mapped + page)))
        // The page still backed by the file reads as before.
        #expect(mapped.load(fromByteOffset: 17, as: UInt8.self) == 0xAB)
        #expect(moe_fault_guard_count_in(slot) == 1)
    }
}

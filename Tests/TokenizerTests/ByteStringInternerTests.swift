import Testing
@testable import Tokenizer

/// The interner the BPE merge table is built with: each distinct byte
/// string gets one id, given or taken in turn, across growth.
@Suite("Byte-string interner")
struct ByteStringInternerTests {
    @Test("given ids are kept, new strings take the next id once, lookups find both, across growth")
    func internsOnce() {
        var interner = ByteStringInterner(capacity: 4)
        let given: [[UInt8]] = [Array("the".utf8), Array("Ġcat".utf8), [], [0xE2, 0x80, 0x99]]
        for (i, text) in given.enumerated() { text.withUnsafeBufferPointer { interner.insert($0, id: Int32(i)) } }
        // a second insert of a known string keeps its first id
        Array("the".utf8).withUnsafeBufferPointer { interner.insert($0, id: 99) }
        var next: Int32 = 100
        var assigned: [Int32] = []
        for n in 0..<5_000 {  // far past the first table size
            let text = Array("w\(n)".utf8)
            assigned.append(text.withUnsafeBufferPointer { interner.intern($0, next: &next) })
        }
        #expect(assigned == (0..<5_000).map { Int32(100 + $0) })
        #expect(next == 5_100)
        for (i, text) in given.enumerated() {
            #expect(text.withUnsafeBufferPointer { interner.id(of: $0) } == Int32(i), "\(text)")
            #expect(text.withUnsafeBufferPointer { interner.intern($0, next: &next) } == Int32(i))
        }
        for n in stride(from: 0, to: 5_000, by: 97) {
            #expect(Array("w\(n)".utf8).withUnsafeBufferPointer { interner.id(of: $0) } == Int32(100 + n))
        }
        #expect(Array("w5000".utf8).withUnsafeBufferPointer { interner.id(of: $0) } == nil)
        #expect(Array("th".utf8).withUnsafeBufferPointer { interner.id(of: $0) } == nil)  // a prefix is not a match
        #expect(next == 5_100)
    }
}

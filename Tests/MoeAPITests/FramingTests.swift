import Testing
import MoeAPI

@Suite("Frame decoder")
struct FramingTests {
    @Test("frames split across arbitrary reads come out whole and in order", arguments: [1, 2, 3, 5, 64])
    func arbitrarySplits(chunkSize: Int) throws {
        let payloads: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 300)]
        let stream = payloads.flatMap(Framing.frame)
        var decoder = FrameDecoder()
        var received: [[UInt8]] = []
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            decoder.append(stream[start..<min(start + chunkSize, stream.count)])
            while let frame = try decoder.next() { received.append(frame) }
        }
        #expect(received == payloads)
        #expect(decoder.pendingByteCount == 0)
    }

    @Test("the length header is big-endian")
    func bigEndian() {
        #expect(Array(Framing.frame(Array(repeating: 0, count: 258)).prefix(4)) == [0, 0, 1, 2])
    }

    @Test("an oversize header is refused before its body arrives")
    func oversize() {
        var decoder = FrameDecoder(maximumFrameSize: 100)
        decoder.append([0, 0, 0, 101])
        #expect(throws: FramingError.self) { try decoder.next() }
    }

    @Test("a header announcing 4 GiB is refused, not allocated")
    func hugeHeader() {
        var decoder = FrameDecoder()
        decoder.append([0xff, 0xff, 0xff, 0xff, 1, 2])
        #expect(throws: FramingError.self) { try decoder.next() }
    }

    @Test("a truncated frame waits for more bytes")
    func truncated() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 5, 1, 2])
        #expect(try decoder.next() == nil)
        decoder.append([3, 4, 5])
        #expect(try decoder.next() == [1, 2, 3, 4, 5])
    }
}

import Dispatch
import Testing
import MoeAPI
import MoeClient
@testable import Service
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Answers `status` at once with a bulky reply and holds `stats` calls
/// until the next `tiers` call on that connection; tells the test when a
/// connection first pauses and records each connection's peak queue.
final class FlowDelegate: ConnectionDelegate, @unchecked Sendable {
    let paused = DispatchSemaphore(value: 0)
    private(set) var closed = 0
    private(set) var peakQueuedBytes = 0
    private var signalledPause = false
    private var held: [UInt64] = []
    static let version = String(repeating: "v", count: 1000)

    func connection(_ connection: Connection, received request: Request) {
        switch request.call {
        case .stats:
            held.append(request.id)
        case .tiers:
            for id in held { connection.send(Response(id: id, isFinal: true, result: .stats([]))) }
            held = []
            connection.send(Response(id: request.id, isFinal: true, result: .tiers(TiersReply())))
        default:
            var status = StatusReply()
            status.version = Self.version
            connection.send(Response(id: request.id, isFinal: true, result: .status(status)))
        }
        if connection.isPaused && !signalledPause {
            signalledPause = true
            paused.signal()
        }
    }

    func connectionDidClose(_ connection: Connection) {
        closed += 1
        peakQueuedBytes = max(peakQueuedBytes, connection.peakQueuedBytes)
    }
}

/// One status request's frame, `count` times, as one block of bytes.
func statusFrames(_ count: Int, firstID: UInt64 = 1) -> [UInt8] {
    (0..<UInt64(count)).flatMap { Framing.frame(Request(id: firstID + $0, call: .status).serialized()) }
}

@Suite("Connection limits: queued replies, idleness, ids, connections per uid", .serialized)
struct ConnectionFlowTests {
    static let replyFrameBytes = Framing.frame(Response(id: 1, isFinal: true, result: .status({
        var s = StatusReply(); s.version = FlowDelegate.version; return s
    }())).serialized()).count

    @Test("a client that sends and never reads is paused at the cap, others are served, and every reply arrives once it reads")
    func backpressure() throws {
        let cap = 64 << 10
        let requests = 20_000  // ~20 MB of replies: far beyond the cap and the kernel's socket buffers
        let flow = FlowDelegate()
        let limits = ConnectionLimits(maxQueuedReplyBytes: cap, slowClientTimeoutMilliseconds: 600_000, idleTimeoutMilliseconds: nil)
        try withServer(limits: limits, delegate: flow) { path in
            let flooder = try MoeClient(socketPath: path)
            flooder.setReceiveTimeout(seconds: 60)
            nonisolated(unsafe) let writer = flooder
            let written = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                do { try writer.write(statusFrames(requests)) } catch { Issue.record("writing requests failed: \(error)") }
                written.signal()
            }
            try #require(flow.paused.wait(timeout: .now() + 60) == .success, "the server never paused the flooding client")
            let other = try MoeClient(socketPath: path)
            other.setReceiveTimeout(seconds: 60)
            #expect(try other.call(.status).isFinal, "another client is served while one is paused")
            var answered = 0
            while answered < requests {
                if try flooder.receive().isFinal { answered += 1 }
            }
            written.wait()
            #expect(answered == requests)
        }
        #expect(flow.peakQueuedBytes > 0)
        #expect(flow.peakQueuedBytes <= cap + Self.replyFrameBytes,
                "peak \(flow.peakQueuedBytes) bytes queued; the cap is \(cap) plus one reply of \(Self.replyFrameBytes)")
    }

    @Test("a client paused past the slow-client timeout is closed; the others carry on")
    func slowClientClosed() throws {
        let flow = FlowDelegate()
        let limits = ConnectionLimits(maxQueuedReplyBytes: 16 << 10, slowClientTimeoutMilliseconds: 100, idleTimeoutMilliseconds: nil)
        try withServer(limits: limits, delegate: flow) { path in
            let flooder = try MoeClient(socketPath: path)
            // Blocks once the server stops reading; fails when it hangs up.
            #expect(throws: ClientError.self) {
                for _ in 0..<200 { try flooder.write(statusFrames(5_000)) }
            }
            let other = try MoeClient(socketPath: path)
            other.setReceiveTimeout(seconds: 60)
            #expect(try other.call(.status).isFinal)
        }
        #expect(flow.closed == 2)
    }

    @Test("a silent connection is closed after the idle timeout; one with a call in flight is kept")
    func idleTimeout() throws {
        let limits = ConnectionLimits(idleTimeoutMilliseconds: 500)  // long enough that the busy call surely arrives first
        try withServer(limits: limits, delegate: FlowDelegate()) { path in
            let silent = try MoeClient(socketPath: path)
            silent.setReceiveTimeout(seconds: 30)
            let busy = try MoeClient(socketPath: path)
            busy.setReceiveTimeout(seconds: 30)
            let held = try busy.send(.stats)
            do {
                _ = try silent.receive()
                Issue.record("a silent connection got an answer")
            } catch let error as ClientError {
                #expect("\(error)".contains("closed by moed"), "\(error)")
            }
            // The silent one was closed after the timeout; the busy one,
            // idle as long but waiting for an answer, still works.
            let release = try busy.send(.tiers)
            let first = try busy.receive()
            let second = try busy.receive()
            #expect(Set([first.id, second.id]) == [held, release])
        }
    }

    @Test("a second call with the id of one in flight gets ALREADY_EXISTS naming the id; the first completes")
    func duplicateID() throws {
        try withServer(delegate: FlowDelegate()) { path in
            let client = try MoeClient(socketPath: path)
            client.setReceiveTimeout(seconds: 30)
            let frame = Framing.frame(Request(id: 7, call: .stats).serialized())
            try client.write(frame + frame)
            let refusal = try client.receive()
            #expect(refusal.id == 7)
            let error = try #require(refusal.error)
            #expect(error.code == .alreadyExists)
            #expect(error.message.contains("request id 7"))
            try client.write(Framing.frame(Request(id: 8, call: .tiers).serialized()))
            let answers = try [client.receive(), client.receive()]
            #expect(answers.map(\.id).sorted() == [7, 8])
            #expect(answers.allSatisfy { $0.isFinal && $0.error == nil })
            // Once answered, the id may be used again.
            try client.write(Framing.frame(Request(id: 7, call: .status).serialized()))
            let again = try client.receive()
            #expect(again.id == 7 && again.error == nil)
        }
    }

    @Test("connections past max_connections_per_uid get RESOURCE_EXHAUSTED and close; the others are served")
    func perUIDCap() throws {
        let limits = ConnectionLimits(maxConnectionsPerUID: 2)
        try withServer(limits: limits) { path in
            let first = try MoeClient(socketPath: path)
            let second = try MoeClient(socketPath: path)
            #expect(try first.call(.status).isFinal)
            #expect(try second.call(.status).isFinal)
            let third = try MoeClient(socketPath: path)
            third.setReceiveTimeout(seconds: 30)
            let refusal = try third.receive()
            #expect(refusal.id == 0)
            let error = try #require(refusal.error)
            #expect(error.code == .resourceExhausted)
            #expect(error.message.contains("uid \(getuid())") && error.message.contains("max_connections_per_uid"))
            #expect(throws: ClientError.self) { _ = try third.receive() }
            #expect(try first.call(.tiers).isFinal)
        }
    }

    @Test("peer credentials are the kernel's: uid, gid, pid and groups of the process on the other end")
    func peerCredentials() throws {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let peer = try #require(PeerCredentials.ofPeer(on: fds[0]))
        #expect(peer.uid == geteuid())
        #expect(peer.gid == getegid())
        #expect(peer.pid == getpid())
        var groups = [gid_t](repeating: 0, count: 256)
        let count = getgroups(Int32(groups.count), &groups)
        #expect(Set(peer.groups) == Set(groups.prefix(Int(max(count, 0)))))
    }
}

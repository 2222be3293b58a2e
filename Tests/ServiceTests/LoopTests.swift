import Dispatch
import Testing
import MoeAPI
import MoeClient
@testable import Service
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Answers every request at once with an empty final response.
final class EchoDelegate: ConnectionDelegate {
    var closed = 0
    func connection(_ connection: Connection, received request: Request) {
        connection.send(Response(id: request.id, isFinal: true))
    }
    func connectionDidClose(_ connection: Connection) { closed += 1 }
}

/// Runs `client` on another thread against a server on this thread's loop,
/// then closes everything and checks the loop closed clean. Returns the
/// server, whose connections' state the caller may inspect now that the
/// loop has stopped.
@discardableResult
func withServer(maximumFrameSize: Int = 1024, limits: ConnectionLimits? = nil, mode: UInt32 = 0o600,
                delegate: ConnectionDelegate = EchoDelegate(),
                _ client: @escaping @Sendable (String) throws -> Void) throws -> UnixSocketServer {
    let loop = try EventLoop()
    let path = "/tmp/moed-loop-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    let server = try UnixSocketServer(loop: loop, path: path, mode: mode,
                                      limits: limits ?? ConnectionLimits(maximumFrameSize: maximumFrameSize))
    server.delegate = delegate
    let done = try AsyncQueue(loop: loop)
    nonisolated(unsafe) let finish = { server.close(); done.close() }
    DispatchQueue.global().async {
        do { try client(path) } catch { Issue.record("client failed: \(error)") }
        done.post(finish)
    }
    loop.run()
    #expect(loop.closeClean())
    #expect(access(path, F_OK) != 0, "the socket file is removed on close")
    return server
}

@Suite("Event loop and socket server", .serialized)
struct LoopTests {
    @Test("posts from many threads all run on the loop, in one drain or many")
    func asyncQueue() throws {
        let loop = try EventLoop()
        let queue = try AsyncQueue(loop: loop)
        nonisolated(unsafe) var count = 0
        nonisolated(unsafe) let q = queue
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) { for _ in 0..<500 { q.post { count += 1 } } }
        }
        group.notify(queue: .global()) { q.post { q.close() } }
        loop.run()
        #expect(count == 2000)
        #expect(loop.closeClean())
    }

    @Test("a timer fires after its delay and closes clean")
    func timer() throws {
        let loop = try EventLoop()
        let timer = try LoopTimer(loop: loop)
        var fired = 0
        timer.start(after: 5) {
            fired += 1
            timer.close()
        }
        loop.run()
        #expect(fired == 1)
        #expect(loop.closeClean())
    }

    @Test("several calls in flight on one connection are answered by id")
    func pipelined() throws {
        try withServer { path in
            let client = try MoeClient(socketPath: path)
            let ids = try (0..<20).map { _ in try client.send(.status) }
            let answered = try (0..<20).map { _ in try client.receive().id }
            #expect(Set(answered) == Set(ids))
        }
    }

    @Test("many connections are served at once")
    func manyConnections() throws {
        try withServer { path in
            let clients = try (0..<16).map { _ in try MoeClient(socketPath: path) }
            for client in clients { _ = try client.send(.tiers) }
            for client in clients { #expect(try client.receive().isFinal) }
        }
    }

    @Test("a garbage frame gets INVALID_ARGUMENT and closes only that connection")
    func garbage() throws {
        try withServer { path in
            let good = try MoeClient(socketPath: path)
            let bad = try MoeClient(socketPath: path)
            try bad.write([0, 0, 0, 3, 0xff, 0xff, 0xff])
            let answer = try bad.receive()
            #expect(answer.error?.code == .invalidArgument)
            #expect(answer.id == 0)
            #expect(throws: ClientError.self) { _ = try bad.receive() }
            #expect(try good.call(.status).isFinal)
        }
    }

    @Test("an oversize frame gets RESOURCE_EXHAUSTED before its body is sent")
    func oversize() throws {
        try withServer(maximumFrameSize: 100) { path in
            let good = try MoeClient(socketPath: path)
            let bad = try MoeClient(socketPath: path)
            try bad.write([0, 0, 0x10, 0])
            #expect(try bad.receive().error?.code == .resourceExhausted)
            #expect(throws: ClientError.self) { _ = try bad.receive() }
            #expect(try good.call(.stats).isFinal)
        }
    }

    @Test("a client that hangs up mid-frame does not disturb the others")
    func truncated() throws {
        try withServer { path in
            do {
                let leaving = try MoeClient(socketPath: path)
                try leaving.write([0, 0, 0, 50, 1, 2])
            }
            let good = try MoeClient(socketPath: path)
            #expect(try good.call(.status).isFinal)
        }
    }

    @Test("a stale socket file is replaced, a regular file is not")
    func staleSocket() throws {
        let loop = try EventLoop()
        let path = "/tmp/moed-stale-\(getpid()).sock"
        let first = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
        first.close()
        #expect(loop.closeClean())
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)  // leaves a socket file with nobody listening
        let second = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
        second.close()
        #expect(loop.closeClean())
        let file = "/tmp/moed-notsocket-\(getpid())"
        fclose(fopen(file, "w"))
        #expect(throws: SocketFileError.self) { _ = try UnixSocketServer(loop: loop, path: file, mode: 0o600) }
        #expect(access(file, F_OK) == 0)
        unlink(file)
        #expect(loop.closeClean())
    }
}

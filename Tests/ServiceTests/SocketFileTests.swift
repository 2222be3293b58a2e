import Dispatch
import Testing
import MoeAPI
import MoeClient
import TestSupport
@testable import Service
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A folder of its own per test, removed at the end.
final class SocketFolder {
    let path: String
    init() {
        var template = Array((TemporaryFiles.systemFolder + "/moed-sock-XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    deinit { _ = system("rm -rf '\(path)'") }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Binds a plain socket at `path` (listening or not), as another program might.
func bindPlainSocket(_ path: String, listening: Bool) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = SocketFile.address(path)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if listening { listen(fd, 4) }
    return fd
}

func inode(_ path: String) -> UInt64? {
    var info = stat()
    return lstat(path, &info) == 0 ? UInt64(info.st_ino) : nil
}

@Suite("The socket file is owned", .serialized)
struct SocketFileTests {
    @Test("a second server refuses a path where one is serving, naming it; the first keeps its socket and serves")
    func liveSocketRefused() throws {
        let folder = SocketFolder()
        let path = folder.file("moed.sock")
        let loop = try EventLoop()
        let first = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
        let echo = EchoDelegate()
        first.delegate = echo
        let before = inode(path)
        do {
            _ = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
            Issue.record("a second server took over a live socket")
        } catch let error as SocketFileError {
            #expect(error.description.contains("another moed is serving on \(path) (pid \(getpid()))"))
        }
        #expect(inode(path) == before, "the live socket is untouched")
        let done = try AsyncQueue(loop: loop)
        nonisolated(unsafe) let finish = { first.close(); done.close() }
        DispatchQueue.global().async {
            do {
                let client = try MoeClient(socketPath: path)
                client.setReceiveTimeout(seconds: 30)
                #expect(try client.call(.status).isFinal)
            } catch {
                Issue.record("\(error)")
            }
            done.post(finish)
        }
        loop.run()
        #expect(loop.closeClean())
        #expect(echo.closed == 2, "the second server's probe and the client")
    }

    @Test("on close a server leaves a socket that replaced its own; it removes only the one it made")
    func removesOnlyItsOwn() throws {
        let folder = SocketFolder()
        let path = folder.file("moed.sock")
        let loop = try EventLoop()
        let server = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
        unlink(path)  // someone removed ours and another daemon bound the path
        let other = bindPlainSocket(path, listening: true)
        defer { close(other) }
        let theirs = inode(path)
        server.close()
        #expect(loop.closeClean())
        #expect(theirs != nil && inode(path) == theirs, "the other socket is still there")

        unlink(path)
        let own = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
        own.close()
        #expect(loop.closeClean())
        #expect(inode(path) == nil, "its own socket is removed")
    }

    @Test("the mode is set on the socket bound, never through a link swapped in at its path")
    func noSymlinkFollowed() throws {
        let folder = SocketFolder()
        let target = folder.file("precious")
        fclose(fopen(target, "w"))
        chmod(target, 0o600)
        let path = folder.file("moed.sock")
        // Bind, then swap the path for a link before the mode is applied:
        // what a local attacker racing moed in a shared folder would do.
        var file = SocketFile(path: path)
        let fd = bindPlainSocket(path, listening: false)
        defer { close(fd) }
        unlink(path)
        symlink(target, path)
        #expect(throws: SocketFileError.self) { try file.adopt(mode: 0o666) }
        var info = stat()
        stat(target, &info)
        #expect(info.st_mode & 0o777 == 0o600, "the link's target keeps its mode")
        #expect(file.removeIfOwned() == false)
    }

    @Test("the socket gets exactly the configured mode", arguments: [0o600, 0o660, 0o666] as [UInt32])
    func mode(_ mode: UInt32) throws {
        let folder = SocketFolder()
        let path = folder.file("moed.sock")
        let loop = try EventLoop()
        let server = try UnixSocketServer(loop: loop, path: path, mode: mode)
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == mode_t(mode))
        server.close()
        #expect(loop.closeClean())
    }

    @Test("a missing folder, a long path and a non-socket file are refused saying what is wrong", arguments: [
        ("/tmp/moed-no-such-folder-\(getpid())/moed.sock", "directory /tmp/moed-no-such-folder-\(getpid()) does not exist"),
        ("/tmp/" + String(repeating: "x", count: 120) + ".sock", "longer than 107 bytes"),
        ("/etc/passwd", "exists and is not a socket"),
        ("/etc/passwd/moed.sock", "/etc/passwd is not a directory"),
    ])
    func badPaths(path: String, message: String) throws {
        let loop = try EventLoop()
        do {
            _ = try UnixSocketServer(loop: loop, path: path, mode: 0o600)
            Issue.record("bound \(path)")
        } catch let error as SocketFileError {
            #expect(error.description.contains(message), "\(error)")
        }
        #expect(loop.closeClean())
    }
}

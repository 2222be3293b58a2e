import Foundation
import Testing
@testable import Gateway

@Suite("moegate's --listen and --api-keys")
struct ListenAddressTests {
    @Test("HOST:PORT, [v6]:PORT and unix:PATH parse; only loopback and Unix sockets count as local")
    func parsing() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8080") == .tcp(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:9") == .tcp(host: "::1", port: 9))
        #expect(try ListenAddress(parsing: "unix:/run/g.sock") == .unix(path: "/run/g.sock"))
        #expect(try ListenAddress(parsing: "127.0.0.1:8080").isLocalOnly)
        #expect(try ListenAddress(parsing: "localhost:1").isLocalOnly)
        #expect(try ListenAddress(parsing: "[::1]:1").isLocalOnly)
        #expect(try ListenAddress(parsing: "unix:/x").isLocalOnly)
        #expect(try !ListenAddress(parsing: "0.0.0.0:8080").isLocalOnly)
        #expect(try !ListenAddress(parsing: "127.0.0.1.example.com:80").isLocalOnly)
        #expect(try !ListenAddress(parsing: "[::]:8080").isLocalOnly)
    }

    @Test("bad addresses are refused naming the flag", arguments: ["8080", "host:", "host:99999", ":80", "unix:"])
    func refused(_ text: String) {
        #expect(throws: GatewaySetupError.self) { try ListenAddress(parsing: text) }
    }

    @Test("a listener other hosts reach without --api-keys is refused")
    func keysRequired() throws {
        let keys = try APIKeys(path: nil)
        #expect(throws: GatewaySetupError.self) {
            try Gateway(socketPath: "/x", listen: .tcp(host: "0.0.0.0", port: 1), keys: keys, logger: .init(label: "t"))
        }
        _ = try Gateway(socketPath: "/x", listen: .tcp(host: "127.0.0.1", port: 1), keys: keys, logger: .init(label: "t"))
    }

    @Test("keys come one per line, skip blanks and comments, and are re-read")
    func keyFile() throws {
        let path = NSTemporaryDirectory() + "moegate-keys-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# team\nalpha\n\n  beta  \n".write(toFile: path, atomically: true, encoding: .utf8)
        let keys = try APIKeys(path: path)
        #expect(keys.count == 2)
        #expect(keys.admits(authorization: "Bearer alpha"))
        #expect(keys.admits(authorization: "bearer beta"))
        #expect(!keys.admits(authorization: "Bearer alph"))
        #expect(!keys.admits(authorization: "alpha"))
        #expect(!keys.admits(authorization: nil))
        try "gamma\n".write(toFile: path, atomically: true, encoding: .utf8)
        try keys.reload()
        #expect(keys.admits(authorization: "Bearer gamma"))
        #expect(!keys.admits(authorization: "Bearer alpha"))
        #expect(throws: GatewaySetupError.self) { try APIKeys(path: path + ".missing") }
    }
}

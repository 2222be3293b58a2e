import Foundation
import MoeAPI

/// The async face of MoeClient for servers that must not block their own
/// threads (moegate runs on SwiftNIO's event loops): each call gets its own
/// connection and its own thread, where the blocking reads happen.
extension MoeClient {
    /// Streams every Response of `call` — non-final ones, then the final —
    /// and finishes. An error answer is thrown as `.refused`. Ending the
    /// iteration early (or cancelling its task) hangs up, so moed cancels
    /// the call.
    public static func responses(socketPath: String, call: Call) -> AsyncThrowingStream<Response, Error> {
        start(socketPath: socketPath, call: call).responses
    }

    /// Like `responses`, with a handle to hang up from outside the iteration
    /// (a server that learns of its client's departure when a write fails).
    public static func start(socketPath: String, call: Call) -> AsyncCall {
        let (stream, continuation) = AsyncThrowingStream<Response, Error>.makeStream(bufferingPolicy: .unbounded)
        let holder = ConnectionHolder()
        continuation.onTermination = { _ in holder.hangUp() }
        let thread = Thread {
            do {
                let client = try MoeClient(socketPath: socketPath)
                guard holder.adopt(client) else { return }
                let id = try client.send(call)
                while true {
                    let response = try client.receive()
                    guard response.id == id else { continue }
                    if let error = response.error { throw ClientError.refused(error) }
                    continuation.yield(response)
                    if response.isFinal { break }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            holder.release()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        return AsyncCall(responses: stream, holder: holder)
    }

    /// Sends `call` and returns its final answer (non-final ones are dropped).
    public static func finalResponse(socketPath: String, call: Call) async throws -> Response {
        for try await response in responses(socketPath: socketPath, call: call) where response.isFinal {
            return response
        }
        throw ClientError.connectionLost("moed ended the call without a final answer")
    }
}

/// One call in flight on its own connection: its responses, and a way to end it.
public struct AsyncCall: Sendable {
    public let responses: AsyncThrowingStream<Response, Error>
    fileprivate let holder: ConnectionHolder

    /// Hangs up the call's connection; moed cancels the call.
    public func hangUp() { holder.hangUp() }
}

/// The connection of one async call, shared between its reading thread and
/// whoever ends the stream; a hang-up before the connection exists is kept
/// so the thread drops the connection as soon as it has one.
private final class ConnectionHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var client: MoeClient?
    private var hungUp = false

    func adopt(_ client: MoeClient) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if hungUp { return false }
        self.client = client
        return true
    }

    func hangUp() {
        lock.lock()
        defer { lock.unlock() }
        hungUp = true
        client?.hangUp()
    }

    func release() {
        lock.lock()
        defer { lock.unlock() }
        client = nil
    }
}

import CLibUV
import MoeAPI

/// What the server tells the rest of the daemon about a connection.
public protocol ConnectionDelegate: AnyObject {
    func connection(_ connection: Connection, received request: Request)
    func connectionDidClose(_ connection: Connection)
}

/// Where a call's answers go. The scheduler only sees this, so tests can
/// collect responses without sockets.
public protocol ResponseSink: AnyObject {
    var isOpen: Bool { get }
    var connectionID: UInt64 { get }
    func send(_ response: Response)
}

/// One client: reads frames, decodes requests, writes framed responses.
/// A bad frame gets an error answer and then the connection closes; the
/// daemon and every other client carry on.
public final class Connection: ResponseSink {
    public let id: UInt64
    private let handle: UnsafeMutablePointer<uv_pipe_t>
    private var decoder: FrameDecoder
    private var state = State.open
    weak var delegate: ConnectionDelegate?
    var onClose: () -> Void = {}

    private enum State { case open, closingAfterWrites, closed }

    public var connectionID: UInt64 { id }
    public var isOpen: Bool { state == .open }

    init?(id: UInt64, loop: EventLoop, server: UnsafeMutablePointer<uv_pipe_t>, maximumFrameSize: Int) {
        self.id = id
        self.decoder = FrameDecoder(maximumFrameSize: maximumFrameSize)
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_pipe_t())
        guard uv_pipe_init(loop.raw, handle, 0) == 0 else {
            handle.deallocate()
            return nil
        }
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
        guard uv_accept(streamHandle(server), streamHandle(handle)) == 0 else {
            closeHandle(handle)
            return nil
        }
    }

    func startReading() {
        let status = uv_read_start(streamHandle(handle), { _, suggested, buffer in
            let size = max(suggested, 65_536)
            buffer?.pointee = uv_buf_init(UnsafeMutablePointer<CChar>.allocate(capacity: size), UInt32(size))
        }, { stream, count, buffer in
            let connection = owner(ofHandle: stream, as: Connection.self)
            if let connection, count > 0, let base = buffer?.pointee.base {
                connection.received(UnsafeRawBufferPointer(start: base, count: count))
            } else if count < 0 {
                connection?.close()  // EOF or read error: the client is gone
            }
            buffer?.pointee.base?.deallocate()
        })
        if status != 0 { close() }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard state == .open else { return }
        decoder.append(bytes)
        do {
            while state == .open, let payload = try decoder.next() {
                do {
                    let request = try Request(serialized: payload)
                    delegate?.connection(self, received: request)
                } catch let refused as DecodingError {
                    // Well formed but a field is refused (a NUL in a string):
                    // answer that call and keep serving the connection.
                    guard let id = refused.requestID else { throw refused }
                    send(.failure(id: id, RemoteError(.invalidArgument, refused.message)))
                }
            }
        } catch let error as FramingError {
            refuse(RemoteError(.resourceExhausted, error.message))
        } catch {
            refuse(RemoteError(.invalidArgument, "malformed frame: \(error)"))
        }
    }

    /// Answers a protocol violation (id 0: the call is unknown) and closes.
    private func refuse(_ error: RemoteError) {
        writeFrame(Response.failure(id: 0, error).serialized())
        closeAfterWrites()
    }

    public func send(_ response: Response) {
        guard state == .open else { return }
        writeFrame(response.serialized())
    }

    private func writeFrame(_ payload: [UInt8]) {
        let frame = Framing.frame(payload)
        let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        request.initialize(to: uv_write_t())
        let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: frame.count)
        for (index, byte) in frame.enumerated() { bytes[index] = CChar(bitPattern: byte) }
        request.pointee.data = UnsafeMutableRawPointer(bytes)
        var buffer = uv_buf_init(bytes, UInt32(frame.count))
        let status = uv_write(request, streamHandle(handle), &buffer, 1) { request, _ in
            // Runs on success, failure and cancellation (close): always free.
            request?.pointee.data?.assumingMemoryBound(to: CChar.self).deallocate()
            request?.deallocate()
        }
        if status != 0 {
            bytes.deallocate()
            request.deallocate()
            close()
        }
    }

    /// Closes once queued writes are flushed, so the error answer arrives.
    private func closeAfterWrites() {
        guard state == .open else { return }
        state = .closingAfterWrites
        uv_read_stop(streamHandle(handle))
        let shutdown = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        shutdown.initialize(to: uv_shutdown_t())
        let status = uv_shutdown(shutdown, streamHandle(handle)) { request, _ in
            let connection = request.flatMap { owner(ofHandle: $0.pointee.handle, as: Connection.self) }
            request?.deallocate()
            connection?.close()
        }
        if status != 0 {
            shutdown.deallocate()
            close()
        }
    }

    /// Closes now; pending writes are cancelled and freed by libuv.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        closeHandle(handle)
        onClose()
        delegate?.connectionDidClose(self)
    }
}

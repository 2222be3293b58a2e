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
/// daemon and every other client carry on. What a client may hold is
/// bounded (Connection+Flow.swift): queued replies, silence, call ids.
public final class Connection: ResponseSink {
    public let id: UInt64
    /// The peer as the kernel reported it at accept.
    public let peer: PeerCredentials
    let handle: UnsafeMutablePointer<uv_pipe_t>
    let limits: ConnectionLimits
    let access: AccessControl
    /// Idle timeout while reading, slow-client timeout while paused.
    let timer: LoopTimer
    private var decoder: FrameDecoder
    var state = State.open
    /// Ids of calls received whose final response has not been sent.
    var callsInFlight: Set<UInt64> = []
    /// Reading stopped because too many reply bytes wait for the client.
    var isPaused = false
    /// The most reply bytes libuv ever held queued for this client.
    public internal(set) var peakQueuedBytes = 0
    weak var delegate: ConnectionDelegate?
    var onClose: () -> Void = {}

    enum State { case open, closingAfterWrites, closed }

    public var connectionID: UInt64 { id }
    public var isOpen: Bool { state == .open }

    init?(id: UInt64, loop: EventLoop, server: UnsafeMutablePointer<uv_pipe_t>, limits: ConnectionLimits, access: AccessControl) {
        guard let timer = try? LoopTimer(loop: loop) else { return nil }
        self.id = id
        self.limits = limits
        self.access = access
        self.timer = timer
        self.decoder = FrameDecoder(maximumFrameSize: limits.maximumFrameSize)
        handle = .allocate(capacity: 1)
        handle.initialize(to: uv_pipe_t())
        guard uv_pipe_init(loop.raw, handle, 0) == 0 else {
            handle.deallocate()
            timer.close()
            return nil
        }
        guard uv_accept(streamHandle(server), streamHandle(handle)) == 0 else {
            closeHandle(handle)  // data is still nil: nothing to release
            timer.close()
            return nil
        }
        var fd: uv_os_fd_t = -1
        let hasDescriptor = uv_fileno(baseHandle(handle), &fd) == 0
        peer = (hasDescriptor ? PeerCredentials.ofPeer(on: fd) : nil) ?? .unknown
        handle.pointee.data = Unmanaged.passRetained(self as AnyObject).toOpaque()
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
        dispatchBufferedFrames()
        if state == .open && !isPaused { armIdleTimer() }
    }

    /// Hands complete frames to the delegate until the buffer runs dry or
    /// the client's reply queue is over the cap (the rest wait for it).
    func dispatchBufferedFrames() {
        do {
            while state == .open, !isPaused, let payload = try decoder.next() {
                do {
                    accept(try Request(serialized: payload))
                } catch let refused as DecodingError {
                    // Well formed but a field is refused (a NUL in a string):
                    // answer that call and keep serving the connection. Not
                    // through send(): the id was never in flight here, and
                    // may be another call's that is.
                    guard let id = refused.requestID else { throw refused }
                    let error = RemoteError(.invalidArgument, refused.message)
                    writeFrame(access.visible(.failure(id: id, error), to: peer).serialized())
                }
            }
        } catch let error as FramingError {
            refuse(RemoteError(.resourceExhausted, error.message))
        } catch {
            refuse(RemoteError(.invalidArgument, "malformed frame: \(error)"))
        }
    }

    /// A second call with the id of one still in flight would make both
    /// calls' answers ambiguous: it is refused, and the first runs on.
    private func accept(_ request: Request) {
        guard callsInFlight.insert(request.id).inserted else {
            let error = RemoteError(.alreadyExists, "request id \(request.id) is already in flight on this connection")
            return writeFrame(access.visible(.failure(id: request.id, error), to: peer).serialized())
        }
        delegate?.connection(self, received: request)
    }

    /// Answers a protocol violation or a refused connection (id 0: the
    /// call is unknown) and closes.
    func refuse(_ error: RemoteError) {
        writeFrame(Response.failure(id: 0, error).serialized())
        closeAfterWrites()
    }

    public func send(_ response: Response) {
        guard state == .open else { return }
        writeFrame(access.visible(response, to: peer).serialized())
        if response.isFinal, callsInFlight.remove(response.id) != nil, callsInFlight.isEmpty, !isPaused {
            armIdleTimer()
        }
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
            let stream = request?.pointee.handle
            request?.pointee.data?.assumingMemoryBound(to: CChar.self).deallocate()
            request?.deallocate()
            owner(ofHandle: stream, as: Connection.self)?.didFlushWrite()
        }
        if status != 0 {
            bytes.deallocate()
            request.deallocate()
            return close()
        }
        didQueueWrite()
    }

    /// Closes once queued writes are flushed, so the error answer arrives.
    private func closeAfterWrites() {
        guard state == .open else { return }
        state = .closingAfterWrites
        timer.stop()
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

    /// Closes now; pending writes are cancelled and freed by libuv, and the
    /// delegate cancels the client's calls.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        timer.close()
        closeHandle(handle)
        onClose()
        delegate?.connectionDidClose(self)
    }
}

import CLibUV

// Backpressure and idleness. A client that sends and never reads must not
// grow the daemon: past `maxQueuedReplyBytes` of unsent replies moed stops
// reading it (and leaves its already-read frames undecoded) until the queue
// drains to half, and closes it if it stays paused for the slow-client
// timeout. A connection with no call in flight that sends nothing for the
// idle timeout is closed. Closing cancels the client's calls, as a
// disconnect does.

extension Connection {
    /// Reply bytes libuv holds that the kernel has not taken yet.
    public var queuedBytes: Int { uv_stream_get_write_queue_size(streamHandle(handle)) }

    func didQueueWrite() {
        let queued = queuedBytes
        peakQueuedBytes = max(peakQueuedBytes, queued)
        if queued > limits.maxQueuedReplyBytes && !isPaused && state == .open { pauseReading() }
    }

    func didFlushWrite() {
        guard isPaused, state == .open, queuedBytes <= limits.resumeBelowBytes else { return }
        resumeReading()
    }

    private func pauseReading() {
        isPaused = true
        uv_read_stop(streamHandle(handle))
        let milliseconds = limits.slowClientTimeoutMilliseconds
        timer.start(after: milliseconds) { [weak self] in
            guard let self, self.isPaused, self.state == .open else { return }
            let why = "\(self.queuedBytes) reply bytes unread for \(milliseconds) ms"
                + " (max_queued_reply_bytes \(self.limits.maxQueuedReplyBytes), slow_client_timeout)"
            moedLog.warning("closing connection \(self.id) (uid \(self.peer.uid)): \(why)")
            self.close()
        }
    }

    /// Frames already read go first; they may fill the queue again.
    private func resumeReading() {
        isPaused = false
        timer.stop()
        dispatchBufferedFrames()
        guard state == .open, !isPaused else { return }
        startReading()
        armIdleTimer()
    }

    /// Restarts the idle clock when nothing is in flight; stops it otherwise.
    func armIdleTimer() {
        guard let milliseconds = limits.idleTimeoutMilliseconds, callsInFlight.isEmpty else { return timer.stop() }
        timer.start(after: milliseconds) { [weak self] in
            guard let self, self.state == .open, !self.isPaused, self.callsInFlight.isEmpty else { return }
            self.close()
        }
    }
}

import CFastCGI
import Glibc

/// One FastCGI request slot: libfcgi's `FCGX_Request` at a fixed address, with its parameters and streams.
///
/// The struct must not move while libfcgi uses it (its streams point back into it), so it lives in memory this
/// class allocates. A slot is used by one thread at a time, but may be handed to another thread between accept and
/// finish: a parked long-poll is answered by whichever thread wakes it, which libfcgi allows.
public final class FastCGIRequest: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<FCGX_Request>
    /// True when the request body was left unread (it was over the limit); see `finish()`.
    private var inputLeftUnread = false

    /// A slot that accepts on `listenSocket` (fd 0, the socket spawn-fcgi passes).
    public init(listenSocket: Int32 = 0) {
        raw = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        raw.initialize(to: FCGX_Request())
        FCGX_InitRequest(raw, listenSocket, 0)
    }

    deinit {
        FCGX_Free(raw, 1)
        raw.deinitialize(count: 1)
        raw.deallocate()
    }

    /// What waiting for a request came to.
    enum AcceptOutcome {
        case accepted
        /// The wait timed out, or the connection failed before its request arrived.
        case nothing
        /// The process (or system) has no descriptor or buffer left for a new connection.
        case exhausted
    }

    /// Waits for the next request on the listening socket.
    ///
    /// The connection is accepted here rather than by libfcgi, whose `OS_Accept` polls every new connection for
    /// readable data first (a workaround for old unix-socket keepers): a syscall and often a sleep per request.
    /// Marking the slot as keeping its connection stops `FCGX_Accept_r`'s implicit finish of the previous request
    /// from closing the connection just handed to it; nginx's FCGI_BEGIN_REQUEST then sets the real flag.
    ///
    /// - Parameter replacingInheritedTimeout: gives a new TCP connection nginx's own 90 s receive timeout instead
    ///   of the listening socket's quarter second, which it inherits (a unix one does not) and which would cut a
    ///   request short at a pause in nginx's stream; a remote nginx that goes silent still cannot hold a worker.
    func accept(replacingInheritedTimeout: Bool) -> AcceptOutcome {
        let connection = Glibc.accept(raw.pointee.listen_sock, nil, nil)
        if connection < 0 {
            switch errno {
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted
            default: return .nothing
            }
        }
        if replacingInheritedTimeout {
            var nginxTimeout = timeval(tv_sec: 90, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &nginxTimeout, socklen_t(MemoryLayout<timeval>.size))
        }
        raw.pointee.ipcFd = connection
        raw.pointee.keepConnection = 1
        inputLeftUnread = false
        return FCGX_Accept_r(raw) == 0 ? .accepted : .nothing
    }

    /// The descriptor of the request's connection to nginx, for watching a long-waiting request's connection.
    public var connectionDescriptor: Int32 { raw.pointee.ipcFd }

    /// The CGI parameters nginx sent (`REQUEST_METHOD`, `HTTP_*`, …), in order.
    ///
    /// Scans the `NAME=value` C strings as bytes: splitting them as Swift `String`s walks grapheme clusters, which
    /// cost more than the rest of a health check.
    public var parameters: [(String, String)] {
        var result: [(String, String)] = []
        result.reserveCapacity(24)
        guard var entry = raw.pointee.envp else { return result }
        while let pointer = entry.pointee {
            let length = strlen(pointer)
            pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                let text = UnsafeBufferPointer(start: bytes, count: length)
                if let equals = text.firstIndex(of: UInt8(ascii: "=")) {
                    let name = String(decoding: UnsafeBufferPointer(rebasing: text[..<equals]), as: UTF8.self)
                    let value = String(decoding: UnsafeBufferPointer(rebasing: text[(equals + 1)...]), as: UTF8.self)
                    result.append((name, value))
                }
            }
            entry += 1
        }
        return result
    }

    /// One parameter by name, or nil.
    public func parameter(_ name: String) -> String? {
        FCGX_GetParam(name, raw.pointee.envp).map { String(cString: $0) }
    }

    /// The outcome of reading a request body against a size limit.
    public enum BodyRead {
        case complete([UInt8])
        /// The body is larger than the limit; nothing beyond the limit was read into memory.
        case tooLarge
    }

    /// Reads the body if it fits in `limit` bytes. A declared `CONTENT_LENGTH` over the limit is refused before
    /// reading anything; a body without a length is read until it passes the limit, then refused.
    public func readBody(limit: Int) -> BodyRead {
        guard let declared = parameter("CONTENT_LENGTH").flatMap({ Int($0) }), declared >= 0 else {
            return readUndeclaredBody(limit: limit)
        }
        if declared > limit {
            inputLeftUnread = true
            return .tooLarge
        }
        // Straight into the body: a scratch buffer would be a zero-filled allocation per request.
        return .complete([UInt8](unsafeUninitializedCapacity: declared) { buffer, initialized in
            initialized = read(into: buffer)
        })
    }

    /// nginx declares every body it passes on; this serves other FastCGI clients.
    private func readUndeclaredBody(limit: Int) -> BodyRead {
        var body: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBufferPointer { read(into: $0) }
            if count == 0 { return .complete(body) }
            if body.count + count > limit {
                inputLeftUnread = true
                return .tooLarge
            }
            body.append(contentsOf: chunk[0..<count])
        }
    }

    /// Fills `buffer` from the request's input; fewer bytes only at its end. Returns how many were read.
    private func read(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        let count = base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
            FCGX_GetStr($0, Int32(buffer.count), raw.pointee.in)
        }
        return max(0, Int(count))
    }

    /// Writes bytes to the response stream; throws when the client (nginx) has gone away.
    public func write(_ bytes: [UInt8]) throws(FastCGIError) {
        if bytes.isEmpty { return }
        let written = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                FCGX_PutStr($0, Int32(buffer.count), raw.pointee.out)
            }
        }
        if written != Int32(bytes.count) { throw FastCGIError.writeFailed }
    }

    /// Pushes buffered output to nginx now (for streamed bodies).
    public func flush() throws(FastCGIError) {
        if FCGX_FFlush(raw.pointee.out) != 0 { throw FastCGIError.writeFailed }
    }

    /// Completes the request: flushes, sends end-of-request and closes the connection.
    ///
    /// libfcgi closes a connection by shutting down its sending side and reading until nginx hangs up (up to 2 s),
    /// so that unread input cannot turn into a reset that loses the response. That wait costs two syscalls and a
    /// sleep per request, and it is only needed when input was left unread: otherwise the slot is marked detached,
    /// which makes libfcgi close at once. The connection is closed even when nginx asked to keep it
    /// (`fastcgi_keep_conn on`): the next request is accepted afresh, never read from a kept connection.
    public func finish() {
        raw.pointee.detached = inputLeftUnread ? 0 : 1
        raw.pointee.keepConnection = 0
        FCGX_Finish_r(raw)
    }

    /// Ends a response that cannot be completed (its body failed half-way), so that the client sees an incomplete
    /// body rather than a short one that looks whole.
    ///
    /// FastCGI has no record for "the response failed", and with `fastcgi_keep_conn off` nginx takes a connection
    /// closed without an end-of-request record as a normal end of a body of unknown length. What it does refuse is
    /// a record of another protocol version: it then drops the client connection without the final chunk. So
    /// unsent output is dropped, one such record header is written, and the connection is closed.
    public func abort() {
        let refusedRecord = [UInt8](repeating: 0, count: 8)
        _ = refusedRecord.withUnsafeBytes { Glibc.write(raw.pointee.ipcFd, $0.baseAddress, $0.count) }
        raw.pointee.detached = 1
        raw.pointee.keepConnection = 0
        FCGX_Free(raw, 1)
    }
}

/// Failures of the FastCGI layer. They are logged, never rendered: the client is already gone.
public enum FastCGIError: Error, CustomStringConvertible {
    case notFastCGI
    case writeFailed

    public var description: String {
        switch self {
        case .notFastCGI: "standard input is not a FastCGI socket; start this program under spawn-fcgi"
        case .writeFailed: "writing the response failed (client gone)"
        }
    }
}

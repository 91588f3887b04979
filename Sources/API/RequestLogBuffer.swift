import Domain
import Glibc
import Web

/// A worker thread's request log: JSON lines collected in memory and written to standard error in batches.
///
/// One `write(2)` per request cost more than the request itself under load (every process appends to the same
/// file), so lines are written in writes of up to 4 KiB (`PIPE_BUF`, below which a pipe keeps a write whole, so
/// lines of several processes never mix), whenever the worker is idle (at most a quarter second after the last
/// request) and when it stops. A process killed with SIGKILL loses at most one unwritten buffer per thread; errors
/// are written at once, unbuffered (`Log`).
final class RequestLogBuffer {
    private var buffer: [UInt8] = []
    private var cachedSecond: Int64 = -1
    private var cachedPrefix: [UInt8] = []
    private static let writeSize = Int(PIPE_BUF)

    /// Where the lines go: standard error, or another descriptor in tests.
    private let descriptor: Int32

    init(descriptor: Int32 = 2) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.writeSize + 512)
    }

    /// Appends one request line: time, level, request id, method, route pattern, status, duration in ms.
    func appendRequest(requestID: String, method: String, route: String?, status: Int, durationMicroseconds: Int64) {
        let now = SystemClock.now()
        let lineStart = buffer.count
        buffer.append(contentsOf: #"{"time":""#.utf8)
        appendTime(now)
        buffer.append(contentsOf: #"","level":"info","request_id":"#.utf8)
        JSON.string(requestID).write(to: &buffer)
        buffer.append(contentsOf: #","method":"#.utf8)
        JSON.string(method).write(to: &buffer)
        buffer.append(contentsOf: #","route":"#.utf8)
        (route.map(JSON.string) ?? .null).write(to: &buffer)
        buffer.append(contentsOf: #","status":"#.utf8)
        appendDecimal(Int64(status))
        buffer.append(contentsOf: #","duration_ms":"#.utf8)
        appendDecimal(durationMicroseconds / 1000)
        buffer.append(UInt8(ascii: "."))
        appendPadded(Int(durationMicroseconds % 1000), width: 3)
        buffer.append(contentsOf: "}\n".utf8)
        if buffer.count > Self.writeSize && lineStart > 0 {
            write(upTo: lineStart)
        }
        if buffer.count >= Self.writeSize { flush() }
    }

    /// Writes out whatever is buffered.
    func flush() {
        write(upTo: buffer.count)
    }

    /// Writes the first `end` bytes (whole lines) and keeps the rest.
    private func write(upTo end: Int) {
        guard end > 0 else { return }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < end {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, end - offset)
                if written <= 0 { break }
                offset += written
            }
        }
        buffer.removeFirst(end)
    }

    /// RFC 3339 with microseconds; the date and time up to the second are formatted once per second.
    private func appendTime(_ time: Timestamp) {
        let second = time.seconds
        if second != cachedSecond {
            cachedSecond = second
            let text = Timestamp(seconds: second).rfc3339
            cachedPrefix = Array(text.utf8.prefix(20))
        }
        buffer.append(contentsOf: cachedPrefix)
        appendPadded(Int(time.microseconds - second * 1_000_000), width: 6)
        buffer.append(UInt8(ascii: "Z"))
    }

    private func appendDecimal(_ value: Int64) {
        buffer.append(contentsOf: String(value).utf8)
    }

    private func appendPadded(_ value: Int, width: Int) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var remaining = value
        var index = width - 1
        while remaining > 0, index >= 0 {
            digits[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
        buffer.append(contentsOf: digits)
    }
}

import Glibc
import Testing

@testable import API

/// The request log's writes: whole lines, none larger than a pipe keeps whole (PIPE_BUF), so the lines of several
/// processes sharing one pipe never mix.
@Suite struct RequestLogBufferTests {
    @Test func writesAreWholeLinesOfAtMostPipeBuf() throws {
        // A sequenced-packet socket keeps each write a record of its own, so the reader sees the writes as made.
        var pair: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        var receiveBuffer: Int32 = 1 << 20
        setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        let log = RequestLogBuffer(descriptor: pair[0])
        let lines = 200
        for index in 0..<lines {
            log.appendRequest(
                requestID: "request-\(index)", method: "GET", route: "/api/v1/jobs/{id}", status: 200,
                durationMicroseconds: 1234)
        }
        log.flush()
        var records: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(pair[1], &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count <= 0 { break }
            records.append(Array(buffer[0..<count]))
        }
        #expect(records.count > 1, "200 lines do not fit one write")
        #expect(records.allSatisfy { $0.count <= Int(PIPE_BUF) && $0.last == UInt8(ascii: "\n") })
        let text = String(decoding: records.joined(), as: UTF8.self)
        let received = text.split(separator: "\n")
        #expect(received.count == lines)
        #expect(received.enumerated().allSatisfy { $0.element.contains("\"request_id\":\"request-\($0.offset)\"") })
    }
}

import Domain
import FastCGI
import Web

/// Serializes a `Response` onto a FastCGI request: a CGI `Status:` header, the headers, then the body.
enum ResponseWriter {
    /// Sends the whole response; throws when nginx has closed the connection.
    static func send(_ response: Response, to slot: FastCGIRequest) throws {
        var head: [UInt8] = []
        head.reserveCapacity(256)
        head.append(contentsOf: "Status: \(response.status) \(Response.reasonPhrase(response.status))\r\n".utf8)
        // Answers are per caller and often carry secrets (a new key, a token): no browser or proxy keeps them.
        head.append(contentsOf: "Cache-Control: no-store\r\n".utf8)
        for (name, value) in response.headers {
            head.append(contentsOf: name.utf8)
            head.append(contentsOf: ": ".utf8)
            head.append(contentsOf: value.utf8)
            head.append(contentsOf: "\r\n".utf8)
        }
        switch response.body {
        case .bytes(let body):
            head.append(contentsOf: "Content-Length: \(body.count)\r\n\r\n".utf8)
            head.append(contentsOf: body)
            try slot.write(head)
        case .stream(let produce):
            head.append(contentsOf: "\r\n".utf8)
            try slot.write(head)
            try produce(StreamWriter(slot: slot))
        }
    }

    /// Sends each piece as it comes and flushes, so nginx passes it on without the whole body in memory.
    private struct StreamWriter: BodyWriter {
        let slot: FastCGIRequest

        func write(_ bytes: [UInt8]) throws {
            try slot.write(bytes)
            try slot.flush()
        }
    }
}

extension App {
    /// Sends `response` on `slot`, ends the request and audits it: the one way every thread answers a request.
    ///
    /// When the client is gone, or a streamed body fails after its status went out, the request is cut off rather
    /// than ended as if it were whole, and its audit row says so.
    func deliver(_ response: Response, on slot: FastCGIRequest, context: RequestContext) {
        do {
            try ResponseWriter.send(response, to: slot)
            slot.finish()
        } catch {
            Log.message(
                .warn, "response not delivered",
                [("request_id", .string(context.requestID)), ("error", .string(String(describing: error)))])
            context.auditDetail.append(("delivery", .string("aborted")))
            slot.abort()
        }
        complete(response, context: context)
    }
}

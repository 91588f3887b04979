import CLibCrypto

/// A failed libcrypto operation: what was attempted and what OpenSSL said about it.
///
/// The reasons come from OpenSSL's per-thread error queue, which is drained when the error is made, so a later
/// failure on the same thread never reports stale reasons. They name algorithms and formats, never key material.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The operation that failed, such as `"PrivateKey.sign"`.
    public let operation: String
    /// The error queue's entries, oldest first, in OpenSSL's `error:code:library:function:reason` form.
    public let reasons: [String]

    /// Records a failure of `operation`, taking the reasons from the drained OpenSSL error queue.
    init(_ operation: String) {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            reasons.append(errorString(code))
        }
        self.init(operation, reasons: reasons)
    }

    /// Records a failure that OpenSSL did not report, such as malformed input detected before calling it.
    init(_ operation: String, reasons: [String]) {
        self.operation = operation
        self.reasons = reasons
    }

    /// The operation followed by the reasons, for logs.
    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation) failed: \(reasons.joined(separator: "; "))"
    }
}

private func errorString(_ code: UInt) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
        ERR_error_string_n(code, buffer.baseAddress, buffer.count)
        return String(cString: buffer.baseAddress!)
    }
}

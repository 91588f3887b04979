import CLibCrypto

/// The facts about an X.509 certificate that client authentication needs.
///
/// TLS, and checking the chain, happen in nginx, which passes the client certificate on; the application only
/// identifies the client by the certificate's fingerprint and checks its validity window, so only these values are
/// extracted.
public struct Certificate: Sendable {
    /// SHA-256 of the DER encoding, as `openssl x509 -noout -fingerprint -sha256` prints it (without colons).
    public let sha256Fingerprint: [UInt8]
    /// The start of the validity period, in Unix seconds (UTC).
    public let notBefore: Int64
    /// The end of the validity period, in Unix seconds (UTC).
    public let notAfter: Int64
    /// The subject's distinguished name in RFC 2253 form, most specific first: `CN=worker-17,O=Example,C=DE`.
    public let subject: String

    /// Parses the first `CERTIFICATE` block of `pem`; throws `OpenSSLError` if there is none or it is malformed.
    public init(pem: String) throws {
        guard let certificate = withReadBIO(pem, { PEM_read_bio_X509($0, nil, refusePassphrase, nil) }) else {
            throw OpenSSLError("Certificate.init(pem:)")
        }
        defer { X509_free(certificate) }
        var fingerprint = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var count: UInt32 = 0
        guard X509_digest(certificate, sha256Algorithm, &fingerprint, &count) == 1,
            let notBefore = unixTime(X509_get0_notBefore(certificate)),
            let notAfter = unixTime(X509_get0_notAfter(certificate)),
            let subject = writingToBIO({
                X509_NAME_print_ex($0, X509_get_subject_name(certificate), 0, shim_xn_flag_rfc2253()) >= 0
            })
        else { throw OpenSSLError("Certificate.init(pem:)") }
        sha256Fingerprint = Array(fingerprint.prefix(Int(count)))
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.subject = subject
    }

    /// Parses a percent-encoded PEM certificate, as nginx's `$ssl_client_escaped_cert` provides it.
    ///
    /// Throws `OpenSSLError` if the percent-encoding or the certificate is malformed.
    public init(urlEncodedPEM: String) throws {
        guard let pem = percentDecoded(urlEncodedPEM) else {
            throw OpenSSLError("Certificate.init(urlEncodedPEM:)", reasons: ["malformed percent-encoding"])
        }
        try self.init(pem: pem)
    }
}

/// Seconds since 1970-01-01T00:00:00Z of `time`, computed by OpenSSL without a platform `time_t`.
private func unixTime(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
    guard let time, let epoch = ASN1_TIME_set(nil, 0) else { return nil }
    defer { ASN1_TIME_free(epoch) }
    var days: Int32 = 0
    var seconds: Int32 = 0
    guard ASN1_TIME_diff(&days, &seconds, epoch, time) == 1 else { return nil }
    return Int64(days) * 86_400 + Int64(seconds)
}

/// `text` with every `%XX` replaced by its byte, or nil if a `%` is not followed by two hexadecimal digits.
private func percentDecoded(_ text: String) -> String? {
    var bytes: [UInt8] = []
    var utf8 = text.utf8.makeIterator()
    while let byte = utf8.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = utf8.next().flatMap(Hex.value(ofDigit:)), let low = utf8.next().flatMap(Hex.value(ofDigit:))
        else { return nil }
        bytes.append(high << 4 | low)
    }
    return String(decoding: bytes, as: UTF8.self)
}

import OpenSSL
import Testing

/// A test CA and a client certificate it issued, made once with the `openssl` CLI (P-256 keys, 36,500 days).
enum TestCertificates {
    static let client = """
        -----BEGIN CERTIFICATE-----
        MIIB+TCCAZ6gAwIBAgIUYgeysWjtdtViE+dohVluYpOTwf4wCgYIKoZIzj0EAwIw
        NzEYMBYGA1UECgwPU3dpdGNoeWFyZCBUZXN0MRswGQYDVQQDDBJTd2l0Y2h5YXJk
        IFRlc3QgQ0EwIBcNMjYxMTIzMTcwMDU3WhgPMjEyNjEwMzAxNzAwNTdaME4xCzAJ
        BgNVBAYTAkRFMRkwFwYDVQQKDBBTd2l0Y2h5YXJkLCBUZXN0MRAwDgYDVQQLDAdD
        bGllbnRzMRIwEAYDVQQDDAl3b3JrZXItMTcwWTATBgcqhkjOPQIBBggqhkjOPQMB
        BwNCAAS6nCvyRHc5r1yQgHNQae1AA43EwnCYcIu9oM/c9Gc5lPSWLjrKWiCUE8KR
        XUxtMM+BfDYn5qsGbxkPQfhbmX1Co28wbTAJBgNVHRMEAjAAMAsGA1UdDwQEAwIH
        gDATBgNVHSUEDDAKBggrBgEFBQcDAjAdBgNVHQ4EFgQUzvd4aV0jgYZlkQU5Myh0
        6kQPTWIwHwYDVR0jBBgwFoAUZz2KS/OBvhuq/4pC/LOLYxwl1howCgYIKoZIzj0E
        AwIDSQAwRgIhAOnluS/3gDxSVhN5mYlzlA8Vpsve+aR/0huYoF0eAgDrAiEA83Rt
        eZYPLbclirPJvrAFRgKe25UunsoEtHnf5x0bXrc=
        -----END CERTIFICATE-----
        """

    /// `client` as nginx's `$ssl_client_escaped_cert` would pass it.
    static let clientURLEncoded =
        "-----BEGIN%20CERTIFICATE-----%0AMIIB%2BTCCAZ6gAwIBAgIUYgeysWjtdtViE%2BdohVluYpOTwf4wCgYIKoZIzj0EAwIw%0A"
        + "NzEYMBYGA1UECgwPU3dpdGNoeWFyZCBUZXN0MRswGQYDVQQDDBJTd2l0Y2h5YXJk%0A"
        + "IFRlc3QgQ0EwIBcNMjYxMTIzMTcwMDU3WhgPMjEyNjEwMzAxNzAwNTdaME4xCzAJ%0A"
        + "BgNVBAYTAkRFMRkwFwYDVQQKDBBTd2l0Y2h5YXJkLCBUZXN0MRAwDgYDVQQLDAdD%0A"
        + "bGllbnRzMRIwEAYDVQQDDAl3b3JrZXItMTcwWTATBgcqhkjOPQIBBggqhkjOPQMB%0A"
        + "BwNCAAS6nCvyRHc5r1yQgHNQae1AA43EwnCYcIu9oM%2Fc9Gc5lPSWLjrKWiCUE8KR%0A"
        + "XUxtMM%2BBfDYn5qsGbxkPQfhbmX1Co28wbTAJBgNVHRMEAjAAMAsGA1UdDwQEAwIH%0A"
        + "gDATBgNVHSUEDDAKBggrBgEFBQcDAjAdBgNVHQ4EFgQUzvd4aV0jgYZlkQU5Myh0%0A"
        + "6kQPTWIwHwYDVR0jBBgwFoAUZz2KS%2FOBvhuq%2F4pC%2FLOLYxwl1howCgYIKoZIzj0E%0A"
        + "AwIDSQAwRgIhAOnluS%2F3gDxSVhN5mYlzlA8Vpsve%2BaR%2F0huYoF0eAgDrAiEA83Rt%0A"
        + "eZYPLbclirPJvrAFRgKe25UunsoEtHnf5x0bXrc%3D%0A-----END%20CERTIFICATE-----%0A"

    static let authority = """
        -----BEGIN CERTIFICATE-----
        MIIBxTCCAWugAwIBAgIUPS2kWCDVGU4bbzcrj/XidolcyakwCgYIKoZIzj0EAwIw
        NzEYMBYGA1UECgwPU3dpdGNoeWFyZCBUZXN0MRswGQYDVQQDDBJTd2l0Y2h5YXJk
        IFRlc3QgQ0EwIBcNMjYxMTIzMTcwMDU0WhgPMjEyNjEwMzAxNzAwNTRaMDcxGDAW
        BgNVBAoMD1N3aXRjaHlhcmQgVGVzdDEbMBkGA1UEAwwSU3dpdGNoeWFyZCBUZXN0
        IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYTwX8nCr2uk73RkmTGGxbL/f
        JrXdkxMADPkRgG7IslPO1t7Yp5B2CY+JfWnfa326oeZS+AMbKU0SJjsp6rV6zaNT
        MFEwHQYDVR0OBBYEFGc9ikvzgb4bqv+KQvyzi2McJdYaMB8GA1UdIwQYMBaAFGc9
        ikvzgb4bqv+KQvyzi2McJdYaMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
        SAAwRQIgDpvoqMw+K4aACgAvERfO7BOWEplm4JtNfDTLeW8FBnICIQC1l4GgFliP
        Lh4od9Q6XFbCSKqsVpjVqffeLJuTaWR3wA==
        -----END CERTIFICATE-----
        """
}

@Suite struct CertificateTests {
    /// Expected values from `openssl x509 -noout -fingerprint -sha256 -dates -subject -nameopt RFC2253`.
    @Test func client() throws {
        let certificate = try Certificate(pem: TestCertificates.client)
        #expect(
            Hex.encode(certificate.sha256Fingerprint)
                == "20aee5979e47a87ada766a6ca5dad1d6b9b953dfba55293ebe2b318deb2e05cf")
        #expect(certificate.notBefore == 1_795_453_257)  // Nov 23 17:00:57 2026 GMT, a UTCTime
        #expect(certificate.notAfter == 4_949_053_257)  // Oct 30 17:00:57 2126 GMT, a GeneralizedTime
        #expect(certificate.subject == #"CN=worker-17,OU=Clients,O=Switchyard\, Test,C=DE"#)
    }

    @Test func authority() throws {
        let certificate = try Certificate(pem: TestCertificates.authority)
        #expect(
            Hex.encode(certificate.sha256Fingerprint)
                == "e9b27e9f9c303499f133448bdd2f9727da3e33b8fad6319e97af478d94ac9b47")
        #expect(certificate.notBefore == 1_795_453_254)
        #expect(certificate.notAfter == 4_949_053_254)
        #expect(certificate.subject == "CN=Switchyard Test CA,O=Switchyard Test")
    }

    /// The fingerprint is the SHA-256 of the DER encoding, i.e. of the PEM body.
    @Test func fingerprintIsHashOfDER() throws {
        let body = TestCertificates.client.split(separator: "\n").dropFirst().dropLast().joined()
        let der = try #require(Base64.decode(body))
        #expect(try Certificate(pem: TestCertificates.client).sha256Fingerprint == SHA256.hash(der))
    }

    @Test func urlEncoded() throws {
        let certificate = try Certificate(urlEncodedPEM: TestCertificates.clientURLEncoded)
        let expected = try Certificate(pem: TestCertificates.client)
        #expect(certificate.sha256Fingerprint == expected.sha256Fingerprint)
        #expect(certificate.subject == expected.subject)
        // Unescaped characters pass through unchanged, so an already decoded PEM is accepted too.
        #expect(try Certificate(urlEncodedPEM: TestCertificates.client).sha256Fingerprint == expected.sha256Fingerprint)
    }

    @Test(arguments: ["%", "%4", "%zz", "-----BEGIN%20CERTIFICATE-----%0", "%G0"])
    func malformedPercentEncodingThrows(text: String) {
        #expect(throws: OpenSSLError.self) { try Certificate(urlEncodedPEM: text) }
    }

    @Test(arguments: [
        "",
        "garbage",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        String(TestCertificates.client.dropLast(60)),
        RFC7515.ecPublicKey,
    ])
    func garbageThrows(pem: String) {
        #expect(throws: OpenSSLError.self) { try Certificate(pem: pem) }
        #expect(throws: OpenSSLError.self) { try Certificate(urlEncodedPEM: pem) }
    }

    /// `PublicKey` takes the key of a certificate: it verifies an ES256 signature by the client's private key
    /// (made with Python's `cryptography`), and the CA's key does not.
    @Test func publicKeyFromCertificate() throws {
        let message = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3b3JrZXItMTcifQ".utf8)
        let signature = try #require(
            Base64URL.decode("Kznu_EpG5OzOxqp4sWpY5mqFmE4iEsg9jnwGVOUySEQk5pZWfEVcOSDR0bd8cJeLu_6KbxAY2fBQM9mnwWnVSw"))
        let client = try PublicKey(pem: TestCertificates.client)
        let authority = try PublicKey(pem: TestCertificates.authority)
        #expect(client.family == .ecP256)
        #expect(client.verify(signature: signature, message: message, algorithm: .es256))
        #expect(!authority.verify(signature: signature, message: message, algorithm: .es256))
    }
}

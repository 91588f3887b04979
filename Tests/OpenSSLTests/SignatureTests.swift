import OpenSSL
import Testing

/// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256), with the JWK keys of those examples converted to PEM.
enum RFC7515 {
    /// `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`, base64url-encoded.
    static let payload =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    static let rsaPrivateKey = """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEowIBAAKCAQEAofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd/wWJcyQoTbji9k0
        l8W26mPddxHmfHQp+Vaw+4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL+yRT+SFd2lZS+pC
        gNMsD1W/YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb/7OMg0LOL+bSf63kpaSHSX
        ndS5z5rexMdbBYUsLA9e+KXBdQOS+UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD
        Zlxvb3qCo5ZwKh9kG4LT6/I5IhlJH7aGhyxXFvUK+DWNmoudF8NAco9/h9iaGNj8
        q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQIDAQABAoIBABKucaRpzQorw35S
        bEUAVx8dYXUdZOlJcHtiWQ+dC6V8ljxAHj/PLyzTveyI5QO/xkObCyjIL303l2cf
        UhPu2MFaJdjVzqACXuOrLot/eSFvxjvqVidTtAZExqFRJ9mylUVAoLvhowVWmC1O
        n95fZCXxTUtxNEG1Xcc7m0rtzJKs45J+N/V9DP1edYH6USyPSWGp6wuA+KgHRnKK
        Vf9GRx80JQY7nVNkL17eHoTWEwga+lwi0FEoW9Y7lDtWXYmKBWhUE+U8PGxlJf8f
        40493HDw1WRQ/aSLoS4QTp3rn7gYgeHEvfJdkkf0UMhlknlo53M09EFPdadQ4TlU
        bjqKc50CgYEA4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH/5IB3jw3bcxGn6QLvnE
        tfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw/Py5PJdTJNPY8cQn7ouZ2KKDcmnPG
        BY5t7yLc1QlQ5xHdwW1VhvKn+nXqhJTBgIPgtldC+KDV5z+y2XDwGUcCgYEAuQPE
        fgmVtjL0Uyyx88GZFF1fOunH3+7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYs
        p1ZSe7zFYHj7C6ul7TjeLQeZD/YwD66t62wDmpe/HlB+TnBA+njbglfIsRLtXlnD
        zQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdcCgYAHAp9XcCSrn8wVkMVkKdb7
        DOX4IKjzdahm+ctDAJN4O/y7OW5FKebvUjdAIt2GuoTZ71iTG+7F0F+lP88jtjP4
        U4qe7VHoewl4MKOfXZKTe+YCS1XbNvfgwJ3Ltyl1OH9hWvu2yza7q+d5PCsDzqtm
        27kxuvULVeya+TEdAB1ijQKBgQCH/3r6YrVH/uCWGy6bzV1nGNOdjKc9tmkfOJmN
        54dxdixdpozCQ6U4OxZrsj3FcOhHBsqAHvX2uuYjagqvo3cOj1TRqNocX40omfCC
        Mx3bD1yPPf/6TI2XECva/ggqEY2mYzmIiA5LVVmc5nrybr+lssFKneeyxN2Wq93S
        0iJMdQKBgCGHewxzoa1r8ZMD0LETNrToK423K377UCYqXfg5XMclbrjPbEC3YI1Z
        NqMtuhdBJqUnBi6tjKMF+34Xf0CUN8ncuXGO2CAYvO8PdyCixHX52ybaDjy1FtCE
        6yUXjoKNXKvUm7MWGsAYH6f4IegOetN5NvmUMFStCSkh7ixZLkN1
        -----END RSA PRIVATE KEY-----
        """

    static let rsaPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAofgWCuLjybRlzo0tZWJj
        NiuSfb4p4fAkd/wWJcyQoTbji9k0l8W26mPddxHmfHQp+Vaw+4qPCJrcS2mJPMEz
        P1Pt0Bm4d4QlL+yRT+SFd2lZS+pCgNMsD1W/YpRPEwOWvG6b32690r2jZ47soMZo
        9wGzjb/7OMg0LOL+bSf63kpaSHSXndS5z5rexMdbBYUsLA9e+KXBdQOS+UTo7WTB
        EMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6/I5IhlJH7aGhyxX
        FvUK+DWNmoudF8NAco9/h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXp
        oQIDAQAB
        -----END PUBLIC KEY-----
        """

    static let rs256SigningInput = Array(("eyJhbGciOiJSUzI1NiJ9." + payload).utf8)

    static let rs256Signature = Base64URL.decode(
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujG"
            + "bds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
            + "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
            + "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
    )!

    static let ecPrivateKeyPKCS8 = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff
        H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp
        7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt
        -----END PRIVATE KEY-----
        """

    static let ecPrivateKeySEC1 = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEII6bEJ5xkJi/mASH3x9dd+nLKWBuvtImO19XwhPfhPSyoAoGCCqGSM49
        AwEHoUQDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEXH8UTNG72b
        focs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==
        -----END EC PRIVATE KEY-----
        """

    static let ecPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7
        6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==
        -----END PUBLIC KEY-----
        """

    static let es256SigningInput = Array(("eyJhbGciOiJFUzI1NiJ9." + payload).utf8)

    static let es256Signature = Base64URL.decode(
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")!
}

/// A 1024-bit RSA key and a valid RS256 signature by it (made with Python's `cryptography`), which must be refused.
enum WeakRSA {
    static let publicKey = """
        -----BEGIN PUBLIC KEY-----
        MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC8d0yOZOjHbKYR+20yd13S0tG9
        fGpMRgTmSQzzEmMwBYd8LIpXR/4Kzn5d3DRl3uPGby2U/CLWxvBsIunH3GGtfFjf
        GxvgvN/7H7UhWRhCOvKMesaw1ZJOHxcatgvSbJaTjF49Fr3EL4eraBxnAyYZNH4Z
        Mhg8TNlSxOqK+Bs3YQIDAQAB
        -----END PUBLIC KEY-----
        """
    static let signingInput = Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3ZWFrIn0".utf8)
    static let signature = Base64URL.decode(
        "cQOwND3Q-qVnZA6S3fo6K_QxYppcg8pxylv4KGdlJmxhrZ1x-M3PXw5s1lD9ERFl2UU0OEfRvLC48lwKaD-QY5UpFXXHrZ06"
            + "Urw8mS55Uk5EHNm00ZE1wpytdOTUBOPfKkQvrOilqCMvcLFqgIRyY7Z6HquY0h50aHcMw9m-Nms"
    )!
}

/// A key on secp256k1, a 256-bit curve that is not P-256, and a valid JWS-form signature by it (made with Python's
/// `cryptography`), which must be refused.
enum Secp256k1 {
    static let publicKey = """
        -----BEGIN PUBLIC KEY-----
        MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE1DS/gB6w/zqRJdG+/Qfl1kk59b255xiE
        yx9wepaCnQ/gP87t+ShZJOwNoXHM+ki8oCX3Nso2ow8bTraYMGQJkQ==
        -----END PUBLIC KEY-----
        """
    static let signingInput = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJrMSJ9".utf8)
    static let signature = Base64URL.decode(
        "olVyfHkDkeaiWyxRLsa_wN9wUMFNYFg7YHPOkoIdatwVT9odg5t7k_LcFxs_zkVBJhNpJ3Ggth2GhoD5fI7v4A")!
}

/// The RFC 7515 A.3 signature in the DER form OpenSSL uses natively.
let es256SignatureDER = Hex.decode(
    "304502200ed1215379636c483c2f7f155807d402a3b228033af97c7e17819ac3169ea665"
        + "022100c50a07d38c3c70e5d8f12daf084a5480a66590c5f293509a8f3f7f8a83a354d5")!

/// `bytes` with one bit of the byte at `index` flipped.
func flippingBit(of bytes: [UInt8], at index: Int) -> [UInt8] {
    var bytes = bytes
    bytes[index] ^= 0x01
    return bytes
}

@Suite struct RS256Tests {
    @Test func rfc7515Verify() throws {
        let key = try PublicKey(pem: RFC7515.rsaPublicKey)
        #expect(key.family == .rsa(bits: 2048))
        #expect(key.verify(signature: RFC7515.rs256Signature, message: RFC7515.rs256SigningInput, algorithm: .rs256))
    }

    /// PKCS #1 v1.5 signatures are deterministic, so signing with the RFC's key reproduces the RFC's signature.
    @Test func rfc7515Sign() throws {
        let key = try PrivateKey(pem: RFC7515.rsaPrivateKey)
        #expect(key.family == .rsa(bits: 2048))
        #expect(try key.sign(message: RFC7515.rs256SigningInput, algorithm: .rs256) == RFC7515.rs256Signature)
        #expect(key.publicKeyPEM == RFC7515.rsaPublicKey + "\n")
    }

    @Test func modifiedMessageOrSignatureFails() throws {
        let key = try PublicKey(pem: RFC7515.rsaPublicKey)
        let message = RFC7515.rs256SigningInput
        let signature = RFC7515.rs256Signature
        #expect(!key.verify(signature: signature, message: flippingBit(of: message, at: 5), algorithm: .rs256))
        #expect(!key.verify(signature: signature, message: message.dropLast(), algorithm: .rs256))
        #expect(!key.verify(signature: flippingBit(of: signature, at: 0), message: message, algorithm: .rs256))
        #expect(!key.verify(signature: flippingBit(of: signature, at: 255), message: message, algorithm: .rs256))
        #expect(!key.verify(signature: Array(signature.dropLast()), message: message, algorithm: .rs256))
        #expect(!key.verify(signature: [], message: message, algorithm: .rs256))
    }

    @Test func generatedRoundTrip() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        #expect(key.family == .rsa(bits: 2048))
        let message = Array("header.payload".utf8)
        let signature = try key.sign(message: message, algorithm: .rs256)
        #expect(signature.count == 256)
        let publicKey = try PublicKey(pem: key.publicKeyPEM)
        #expect(publicKey.verify(signature: signature, message: message, algorithm: .rs256))
        #expect(!publicKey.verify(signature: signature, message: Array("header.payloaD".utf8), algorithm: .rs256))
        #expect(!(try PublicKey(pem: RFC7515.rsaPublicKey)).verify(
            signature: signature, message: message, algorithm: .rs256))
    }

    @Test func weakKeyRefused() throws {
        let key = try PublicKey(pem: WeakRSA.publicKey)
        #expect(key.family == .rsa(bits: 1024))
        #expect(!key.verify(signature: WeakRSA.signature, message: WeakRSA.signingInput, algorithm: .rs256))
        let generated = try PrivateKey.generate(.rsa(bits: 1024))
        #expect(throws: OpenSSLError.self) { try generated.sign(message: [1, 2, 3], algorithm: .rs256) }
    }
}

@Suite struct ES256Tests {
    @Test func rfc7515Verify() throws {
        let key = try PublicKey(pem: RFC7515.ecPublicKey)
        #expect(key.family == .ecP256)
        #expect(key.verify(signature: RFC7515.es256Signature, message: RFC7515.es256SigningInput, algorithm: .es256))
    }

    /// ECDSA signatures are randomized, so a fresh signature differs from the RFC's yet verifies.
    @Test(arguments: [RFC7515.ecPrivateKeyPKCS8, RFC7515.ecPrivateKeySEC1])
    func rfc7515Sign(pem: String) throws {
        let key = try PrivateKey(pem: pem)
        #expect(key.family == .ecP256)
        #expect(key.publicKeyPEM == RFC7515.ecPublicKey + "\n")
        let signature = try key.sign(message: RFC7515.es256SigningInput, algorithm: .es256)
        #expect(signature.count == 64)
        #expect(signature != RFC7515.es256Signature)
        let publicKey = try PublicKey(pem: RFC7515.ecPublicKey)
        #expect(publicKey.verify(signature: signature, message: RFC7515.es256SigningInput, algorithm: .es256))
    }

    @Test func modifiedMessageOrSignatureFails() throws {
        let key = try PublicKey(pem: RFC7515.ecPublicKey)
        let message = RFC7515.es256SigningInput
        let signature = RFC7515.es256Signature
        #expect(!key.verify(signature: signature, message: flippingBit(of: message, at: 5), algorithm: .es256))
        #expect(!key.verify(signature: flippingBit(of: signature, at: 0), message: message, algorithm: .es256))
        #expect(!key.verify(signature: flippingBit(of: signature, at: 63), message: message, algorithm: .es256))
        #expect(!key.verify(signature: Array(signature.dropLast()), message: message, algorithm: .es256))
        #expect(!key.verify(signature: signature + [0], message: message, algorithm: .es256))
        #expect(!key.verify(signature: [UInt8](repeating: 0, count: 64), message: message, algorithm: .es256))
        #expect(!key.verify(signature: [], message: message, algorithm: .es256))
    }

    /// The DER form OpenSSL itself produces is not a JWS signature.
    @Test func derSignatureRefused() throws {
        let key = try PublicKey(pem: RFC7515.ecPublicKey)
        #expect(!key.verify(signature: es256SignatureDER, message: RFC7515.es256SigningInput, algorithm: .es256))
    }

    /// Many signatures, so that some have an `r` or `s` with leading zero bytes, which must be padded to 32.
    @Test func generatedRoundTrip() throws {
        let key = try PrivateKey.generate(.ecP256)
        #expect(key.family == .ecP256)
        let publicKey = try PublicKey(pem: key.publicKeyPEM)
        for index in 0..<300 {
            let message = Array("message \(index)".utf8)
            let signature = try key.sign(message: message, algorithm: .es256)
            #expect(signature.count == 64)
            #expect(publicKey.verify(signature: signature, message: message, algorithm: .es256))
        }
    }

    @Test func emptyMessage() throws {
        let key = try PrivateKey.generate(.ecP256)
        let signature = try key.sign(message: [], algorithm: .es256)
        #expect(try PublicKey(pem: key.publicKeyPEM).verify(signature: signature, message: [], algorithm: .es256))
    }

    @Test func otherCurveRefused() throws {
        let key = try PublicKey(pem: Secp256k1.publicKey)
        #expect(key.family == .other)
        #expect(!key.verify(signature: Secp256k1.signature, message: Secp256k1.signingInput, algorithm: .es256))
        #expect(!key.verify(signature: Secp256k1.signature, message: Secp256k1.signingInput, algorithm: .rs256))
    }
}

/// A key is only ever used with the algorithm of its family.
@Suite struct AlgorithmConfusionTests {
    @Test func wrongFamilyVerifyFails() throws {
        let rsa = try PublicKey(pem: RFC7515.rsaPublicKey)
        let ec = try PublicKey(pem: RFC7515.ecPublicKey)
        // OpenSSL itself would accept this one: a genuine ECDSA signature by the EC key, presented as "RS256".
        #expect(!ec.verify(signature: es256SignatureDER, message: RFC7515.es256SigningInput, algorithm: .rs256))
        #expect(!rsa.verify(signature: RFC7515.es256Signature, message: RFC7515.es256SigningInput, algorithm: .es256))
        #expect(!rsa.verify(signature: RFC7515.rs256Signature, message: RFC7515.rs256SigningInput, algorithm: .es256))
        #expect(!ec.verify(signature: RFC7515.es256Signature, message: RFC7515.es256SigningInput, algorithm: .rs256))
        #expect(!ec.verify(signature: RFC7515.rs256Signature, message: RFC7515.rs256SigningInput, algorithm: .rs256))
    }

    @Test func wrongFamilySignThrows() throws {
        let rsa = try PrivateKey(pem: RFC7515.rsaPrivateKey)
        let ec = try PrivateKey(pem: RFC7515.ecPrivateKeySEC1)
        #expect(throws: OpenSSLError.self) { try rsa.sign(message: [1], algorithm: .es256) }
        #expect(throws: OpenSSLError.self) { try ec.sign(message: [1], algorithm: .rs256) }
    }

    @Test func algorithmNames() {
        #expect(SignatureAlgorithm(rawValue: "RS256") == .rs256)
        #expect(SignatureAlgorithm(rawValue: "ES256") == .es256)
        #expect(SignatureAlgorithm(rawValue: "HS256") == nil)
        #expect(SignatureAlgorithm(rawValue: "none") == nil)
        #expect(SignatureAlgorithm(rawValue: "rs256") == nil)
    }
}

@Suite struct KeyPEMTests {
    @Test(arguments: [
        "",
        "garbage",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n",
        String(RFC7515.ecPublicKey.dropLast(40)),
    ])
    func garbageThrows(pem: String) {
        #expect(throws: OpenSSLError.self) { try PublicKey(pem: pem) }
        #expect(throws: OpenSSLError.self) { try PrivateKey(pem: pem) }
    }

    @Test func privateKeyIsNotAPublicKey() {
        #expect(throws: OpenSSLError.self) { try PublicKey(pem: RFC7515.ecPrivateKeyPKCS8) }
        #expect(throws: OpenSSLError.self) { try PrivateKey(pem: RFC7515.ecPublicKey) }
    }

    @Test func errorDescribesOperationAndReason() throws {
        let error = try #require(throws: OpenSSLError.self) { try PublicKey(pem: "garbage") }
        #expect(error.operation == "PublicKey.init(pem:)")
        #expect(!error.reasons.isEmpty)
        #expect(error.description.hasPrefix("PublicKey.init(pem:) failed: error:"))
    }

    /// An encrypted key fails instead of prompting for a passphrase on the terminal.
    @Test func encryptedPrivateKeyThrows() throws {
        let encrypted = """
            -----BEGIN ENCRYPTED PRIVATE KEY-----
            MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjjh9ucw6u8LgICCAAw
            DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEM0MLP4iF881OkAkuq00k24EgZBs
            jD7x3TVRkl/73NUaZ+jH67N5LWqY1bbrbMHlZ2bg3hvqw1gnbmVtRjU4IKWrPf93
            rkRQX5s9as/0GdXBkYtkEKbpdwQ+kOVkaLmWseNwcrJQgGtGUTv3tAD87ipHyqJE
            TFurY49ta/WslngYE7XvGoD+X+ZAJ8M+Rr1UHnuEx8EAma5HGFPGItj2DcyUO0U=
            -----END ENCRYPTED PRIVATE KEY-----
            """
        #expect(throws: OpenSSLError.self) { try PrivateKey(pem: encrypted) }
    }

    /// The exported PKCS #8 PEM loads back to a key that makes signatures the original's public key accepts.
    @Test(arguments: [PrivateKey.Kind.ecP256, .rsa(bits: 2048)])
    func pemRoundTrip(kind: PrivateKey.Kind) throws {
        let key = try PrivateKey.generate(kind)
        #expect(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let reloaded = try PrivateKey(pem: key.pem)
        #expect(reloaded.publicKeyPEM == key.publicKeyPEM)
        let algorithm: SignatureAlgorithm = kind == .ecP256 ? .es256 : .rs256
        let signature = try reloaded.sign(message: [1, 2, 3], algorithm: algorithm)
        let publicKey = try PublicKey(pem: key.publicKeyPEM)
        #expect(publicKey.verify(signature: signature, message: [1, 2, 3], algorithm: algorithm))
    }
}

/// One loaded key serves all request threads at once.
@Suite struct ConcurrencyTests {
    @Test func sharedKeysAcrossTasks() async throws {
        let rsa = try PublicKey(pem: RFC7515.rsaPublicKey)
        let ec = try PrivateKey(pem: RFC7515.ecPrivateKeyPKCS8)
        let ecPublic = try PublicKey(pem: RFC7515.ecPublicKey)
        // Digests made one at a time, to compare with the ones made concurrently.
        let expectedDigests = (0..<64).map { SHA256.hash(Array("message \($0)".utf8)) }
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let message = Array("message \(index)".utf8)
                    guard let signature = try? ec.sign(message: message, algorithm: .es256) else { return false }
                    return ecPublic.verify(signature: signature, message: message, algorithm: .es256)
                        && rsa.verify(
                            signature: RFC7515.rs256Signature, message: RFC7515.rs256SigningInput, algorithm: .rs256)
                        && SHA256.hash(message) == expectedDigests[index]
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 })
    }
}

import CLibCrypto

/// Calls `body` with a read-only memory BIO over the UTF-8 of `text`, or returns nil if the BIO cannot be made.
///
/// The BIO borrows the string's storage, so it must not escape `body`.
func withReadBIO<R>(_ text: String, _ body: (OpaquePointer) throws -> R?) rethrows -> R? {
    var text = text
    return try text.withUTF8 { utf8 in
        guard let bio = BIO_new_mem_buf(utf8.baseAddress, Int32(clamping: utf8.count)) else { return nil }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// Calls `body` with an empty writable memory BIO and returns what it wrote as a string, or nil on failure.
func writingToBIO(_ body: (OpaquePointer) -> Bool) -> String? {
    guard let bio = BIO_new(BIO_s_mem()) else { return nil }
    defer { BIO_free(bio) }
    guard body(bio) else { return nil }
    let count = Int(BIO_ctrl_pending(bio))
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        initialized = Int(max(0, BIO_read(bio, buffer.baseAddress, Int32(count))))
    }
    return bytes.count == count ? String(decoding: bytes, as: UTF8.self) : nil
}

/// A passphrase callback that refuses, so an encrypted PEM fails instead of OpenSSL prompting on the terminal.
let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
    _, _, _, _ in -1
}

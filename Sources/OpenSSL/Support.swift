import CLibCrypto

/// libcrypto's SHA-256, fetched from the default provider once: the implicit fetch that `EVP_sha256()` implies
/// on every use costs more than hashing a short input. A fetched `EVP_MD` is immutable, hence safe to share.
nonisolated(unsafe) let sha256Algorithm: OpaquePointer = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()

extension Collection<UInt8> {
    /// Calls `body` with the bytes in contiguous memory, copying only when the collection has no contiguous storage.
    func withContiguousBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let result = try withContiguousStorageIfAvailable(body) {
            return result
        }
        return try Array(self).withUnsafeBufferPointer(body)
    }
}

/// Base64 with the URL- and filename-safe alphabet and no padding (RFC 4648 §5), as JWS and JWT use it.
///
/// Decoding is strict so that every byte string has exactly one accepted text form: a token cannot be altered
/// into a second spelling that still decodes to the same bytes.
public enum Base64URL {
    /// The unpadded base64url text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        Base64Codec.url.encode(bytes)
    }

    /// The bytes of canonical unpadded base64url `text`, or nil if it is not exactly that.
    ///
    /// Rejects padding (`=`), whitespace, characters of the standard alphabet (`+`, `/`), impossible lengths
    /// (`count % 4 == 1`) and non-zero unused bits in the last character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        Base64Codec.url.decode(text)
    }
}

/// Base64 with the standard alphabet and padding (RFC 4648 §4).
///
/// For formats that require it, such as PEM bodies and HTTP Basic credentials.
public enum Base64 {
    /// The padded base64 text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        Base64Codec.standard.encode(bytes)
    }

    /// The bytes of canonical padded base64 `text`, or nil if it is not exactly that.
    ///
    /// Requires a length that is a multiple of 4 with the right amount of padding; rejects whitespace, the
    /// URL-safe characters (`-`, `_`) and non-zero unused bits before the padding.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        Base64Codec.standard.decode(text)
    }
}

/// Hexadecimal text, two digits a byte.
///
/// For fingerprints and digests in logs, configuration and the database.
public enum Hex {
    /// The lowercase hexadecimal text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of hexadecimal `text` (either case, no separators), or nil if it has an odd length or other
    /// characters.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = value(ofDigit: utf8[index]), let low = value(ofDigit: utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static let digits = Array("0123456789abcdef".utf8)

    /// The value of the hexadecimal digit `character` (either case), or nil if it is not one.
    static func value(ofDigit character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The two RFC 4648 base64 variants, which differ only in the last two characters of the alphabet and in padding.
private struct Base64Codec: Sendable {
    static let standard = Base64Codec(lastTwo: "+/", padded: true)
    static let url = Base64Codec(lastTwo: "-_", padded: false)

    private static let invalid: UInt8 = 0xFF
    private let alphabet: [UInt8]
    private let values: [UInt8]
    private let padded: Bool

    private init(lastTwo: String, padded: Bool) {
        alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\(lastTwo)".utf8)
        var values = [UInt8](repeating: Self.invalid, count: 256)
        for (value, character) in alphabet.enumerated() {
            values[Int(character)] = UInt8(value)
        }
        self.values = values
        self.padded = padded
    }

    func encode(_ bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let group = UInt32(bytes[index]) << 16
                | (remaining > 1 ? UInt32(bytes[index + 1]) << 8 : 0)
                | (remaining > 2 ? UInt32(bytes[index + 2]) : 0)
            let characters = min(remaining, 3) + 1
            for position in 0..<4 {
                if position < characters {
                    text.append(alphabet[Int(group >> (18 - 6 * position) & 0x3F)])
                } else if padded {
                    text.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }

    func decode(_ text: some StringProtocol) -> [UInt8]? {
        var utf8 = Array(text.utf8)
        if padded {
            guard utf8.count.isMultiple(of: 4) else { return nil }
            let padding = utf8.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count
            utf8.removeLast(padding)
            // Padding only ever completes a partial last group: "xx==" or "xxx=".
            guard padding == 0 || utf8.count % 4 == 4 - padding else { return nil }
        }
        let tail = utf8.count % 4
        guard tail != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 4 * 3 + max(0, tail - 1))
        var index = 0
        while index < utf8.count {
            let characters = min(4, utf8.count - index)
            var group: UInt32 = 0
            for position in 0..<4 {
                var value: UInt8 = 0
                if position < characters {
                    value = values[Int(utf8[index + position])]
                    guard value != Self.invalid else { return nil }
                }
                group = group << 6 | UInt32(value)
            }
            let decoded = characters - 1
            // The bits of the last character that do not reach a whole byte must be zero to be canonical.
            guard group & (0xFF_FFFF >> (8 * decoded)) == 0 else { return nil }
            for position in 0..<decoded {
                bytes.append(UInt8(truncatingIfNeeded: group >> (16 - 8 * position)))
            }
            index += 4
        }
        return bytes
    }
}

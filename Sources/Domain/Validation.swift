/// Field rules shared by the API and the command line; each returns a message for people, or nil when valid.
///
/// The database enforces the same rules with named CHECK constraints; these run first so that a client learns
/// every bad field at once, by name.
public enum Validation {
    /// Principal names: 1–64 of letters, digits, `.`, `_`, `@`, `-`, starting with a letter or digit.
    public static func principalName(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return "must be 1 to 64 characters" }
        guard isAlphanumeric(bytes[0]), bytes.allSatisfy({ isAlphanumeric($0) || ".-_@".utf8.contains($0) }) else {
            return "may contain letters, digits, '.', '_', '@' and '-', and must start with a letter or digit"
        }
        return nil
    }

    /// Role names: 1–40 of lower-case letters, digits, `_`, `-`, starting with a letter.
    public static func roleName(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (1...40).contains(bytes.count), (97...122).contains(bytes[0]),
            bytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45 })
        else { return "must be 1 to 40 lower-case letters, digits, '_' or '-', starting with a letter" }
        return nil
    }

    /// E-mail addresses: something@domain.tld, at most 254 characters, no spaces.
    public static func email(_ email: String) -> String? {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !email.contains(where: \.isWhitespace)
        else { return "must be an e-mail address" }
        return nil
    }

    /// Passwords: 12 to 1024 characters.
    public static func password(_ password: String) -> String? {
        guard password.count >= 12 else { return "must be at least 12 characters" }
        guard password.utf8.count <= 1024 else { return "must be at most 1024 bytes" }
        return nil
    }

    /// Free text shown to people (display names, descriptions): at most `limit` characters, no control characters.
    ///
    /// Characters are counted as PostgreSQL's `char_length` counts them, in code points: `e` with a combining
    /// accent is two, so what passes here also passes the table's constraint.
    public static func text(_ text: String, limit: Int) -> String? {
        guard text.unicodeScalars.count <= limit else { return "must be at most \(limit) characters" }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "must not contain control characters"
        }
        return nil
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte)
    }
}

/// A lexical token of OpenQASM 2 with the position of its first character.
struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier(String)
        /// An unsigned integer literal; `nil` when it does not fit in 64 bits.
        case integer(UInt64?)
        case real(Double)
        case string(String)
        case symbol(Symbol)
        case end
        /// Characters that start no token; the payload describes them.
        case invalid(String)
    }

    enum Symbol: String, Sendable {
        case semicolon = ";", comma = ",", leftParen = "(", rightParen = ")"
        case leftBracket = "[", rightBracket = "]", leftBrace = "{", rightBrace = "}"
        case arrow = "->", equals = "==", plus = "+", minus = "-", star = "*", slash = "/", caret = "^"
    }

    var kind: Kind
    var line: Int
    var column: Int

    /// How the token reads in an error message.
    var spelling: String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .integer(let value): value.map { "'\($0)'" } ?? "integer literal"
        case .real(let value): "'\(value)'"
        case .string(let text): "\"\(text.count > 64 ? text.prefix(64) + "…" : text)\""
        case .symbol(let symbol): "'\(symbol.rawValue)'"
        case .end: "end of program"
        case .invalid(let text): text
        }
    }
}

/// Splits OpenQASM 2 source into tokens on demand, tracking line and column.
///
/// It works on UTF-8 bytes: the language is ASCII, and anything else can only appear in comments
/// and strings, so bytes are both simpler and faster than characters here.
struct Lexer {
    private let bytes: [UInt8]
    private var position = 0
    private var line = 1
    private var lineStart = 0
    /// The last column computed on the current line, so columns cost amortized O(1) even on
    /// one enormous line.
    private var columnCache = (offset: 0, column: 1)
    private let maxIdentifierBytes: Int

    init(source: String, maxIdentifierBytes: Int = ParseLimits().maxIdentifierBytes) {
        bytes = Array(source.utf8)
        self.maxIdentifierBytes = maxIdentifierBytes
    }

    /// Column of `offset` on the current line, counting Unicode scalars rather than bytes.
    private mutating func column(of offset: Int) -> Int {
        if columnCache.offset < lineStart || columnCache.offset > offset {
            columnCache = (lineStart, 1)
        }
        var (index, count) = columnCache
        while index < offset {
            if bytes[index] & 0xC0 != 0x80 { count += 1 }
            index += 1
        }
        columnCache = (offset, count)
        return count
    }

    mutating func next() -> Token {
        skipTriviaAndComments()
        guard position < bytes.count else {
            return Token(kind: .end, line: line, column: column(of: position))
        }
        let start = position
        let startColumn = column(of: start)
        let byte = bytes[position]
        func token(_ kind: Token.Kind) -> Token { Token(kind: kind, line: line, column: startColumn) }

        if isLetter(byte) {
            while position < bytes.count, isIdentifierByte(bytes[position]) { position += 1 }
            // Names end up in messages and tables; a megabyte-long one only costs time and memory.
            guard position - start <= maxIdentifierBytes else {
                return token(.invalid("an identifier longer than \(maxIdentifierBytes) characters"))
            }
            return token(.identifier(String(decoding: bytes[start ..< position], as: UTF8.self)))
        }
        if isDigit(byte) || (byte == UInt8(ascii: ".") && position + 1 < bytes.count && isDigit(bytes[position + 1])) {
            return token(lexNumber())
        }
        if byte == UInt8(ascii: "\"") {
            position += 1
            let contentStart = position
            while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\n") {
                position += 1
            }
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                return token(.invalid("unterminated string"))
            }
            let text = String(decoding: bytes[contentStart ..< position], as: UTF8.self)
            position += 1
            return token(.string(text))
        }
        position += 1
        switch byte {
        case UInt8(ascii: ";"): return token(.symbol(.semicolon))
        case UInt8(ascii: ","): return token(.symbol(.comma))
        case UInt8(ascii: "("): return token(.symbol(.leftParen))
        case UInt8(ascii: ")"): return token(.symbol(.rightParen))
        case UInt8(ascii: "["): return token(.symbol(.leftBracket))
        case UInt8(ascii: "]"): return token(.symbol(.rightBracket))
        case UInt8(ascii: "{"): return token(.symbol(.leftBrace))
        case UInt8(ascii: "}"): return token(.symbol(.rightBrace))
        case UInt8(ascii: "+"): return token(.symbol(.plus))
        case UInt8(ascii: "*"): return token(.symbol(.star))
        case UInt8(ascii: "/"): return token(.symbol(.slash))
        case UInt8(ascii: "^"): return token(.symbol(.caret))
        case UInt8(ascii: "-"):
            if position < bytes.count, bytes[position] == UInt8(ascii: ">") {
                position += 1
                return token(.symbol(.arrow))
            }
            return token(.symbol(.minus))
        case UInt8(ascii: "="):
            if position < bytes.count, bytes[position] == UInt8(ascii: "=") {
                position += 1
                return token(.symbol(.equals))
            }
            return token(.invalid("'=' (did you mean '=='?)"))
        default:
            // Consume the whole (possibly multi-byte) character so the next token starts cleanly.
            while position < bytes.count, bytes[position] & 0xC0 == 0x80 { position += 1 }
            let text = String(decoding: bytes[start ..< position], as: UTF8.self)
            return token(.invalid("unexpected character '\(text)'"))
        }
    }

    private mutating func skipTriviaAndComments() {
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\n") {
                position += 1
                line += 1
                lineStart = position
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                position += 1
            } else if byte == UInt8(ascii: "/"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "/") {
                while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
            } else {
                return
            }
        }
    }

    private mutating func lexNumber() -> Token.Kind {
        let start = position
        var isReal = false
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isReal = true
            position += 1
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            var lookahead = position + 1
            if lookahead < bytes.count, bytes[lookahead] == UInt8(ascii: "+") || bytes[lookahead] == UInt8(ascii: "-") {
                lookahead += 1
            }
            if lookahead < bytes.count, isDigit(bytes[lookahead]) {
                isReal = true
                position = lookahead
                while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            }
        }
        let text = String(decoding: bytes[start ..< position], as: UTF8.self)
        if isReal {
            return Double(text).map { .real($0) } ?? .invalid("malformed number '\(text)'")
        }
        return .integer(UInt64(text))
    }

    private func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func isIdentifierByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte)
    }
}

import Testing

@testable import Postgres

@Suite struct DecodingTests {
    @Test func byteaHexDecodes() {
        #expect(ResultRow.decodeByteaHex("\\x00ff10") == [0x00, 0xFF, 0x10])
        #expect(ResultRow.decodeByteaHex("\\x") == [])
        #expect(ResultRow.decodeByteaHex("\\x0") == nil)
        #expect(ResultRow.decodeByteaHex("00ff") == nil)
        #expect(ResultRow.decodeByteaHex("\\xzz") == nil)
    }

    @Test func textArraysDecodeQuotingAndEscapes() {
        #expect(ResultRow.decodeTextArray("{}") == [])
        #expect(ResultRow.decodeTextArray("{a,b}") == ["a", "b"])
        #expect(ResultRow.decodeTextArray("{\"a b\",\"c,d\",\"e\\\"f\"}") == ["a b", "c,d", "e\"f"])
        #expect(ResultRow.decodeTextArray("{job:*,device:read}") == ["job:*", "device:read"])
        #expect(ResultRow.decodeTextArray("{a,NULL}") == nil)
        #expect(ResultRow.decodeTextArray("a,b") == nil)
        #expect(ResultRow.decodeTextArray("{é,\"ü \\\\ ñ\",NULLS}") == ["é", "ü \\ ñ", "NULLS"])
        #expect(ResultRow.decodeTextArray("{\"open}") == nil)
        #expect(ResultRow.decodeTextArray("{") == nil)
    }

    @Test func textArrayLiteralsRoundTrip() {
        let values = ["plain", "with space", "quote\"inside", "back\\slash", ""]
        guard case .text(let literal) = PostgresValue.textArray(values) else {
            Issue.record("expected a text literal")
            return
        }
        #expect(ResultRow.decodeTextArray(literal) == values)
    }

    @Test func nullHelpersMapNilToNull() {
        #expect(PostgresValue.text(nil as String?) == .null)
        #expect(PostgresValue.int(nil as Int64?) == .null)
        #expect(PostgresValue.int(5 as Int?) == .int(5))
    }

    @Test func wireFormatIsTextExceptBytes() {
        #expect(PostgresValue.int(42).wireBytes?.bytes == Array("42".utf8))
        #expect(PostgresValue.bool(true).wireBytes?.bytes == Array("t".utf8))
        #expect(PostgresValue.bytes([1, 2]).wireBytes?.isBinary == true)
        #expect(PostgresValue.text("x").wireBytes?.isBinary == false)
        #expect(PostgresValue.null.wireBytes == nil)
    }
}

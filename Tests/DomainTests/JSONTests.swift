import Testing
import Domain

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSON.parse(#"{"a":1,"b":-2.5e3,"c":"x\n\u00e9\ud83d\ude00","d":[true,false,null],"e":{}}"#)
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(-2500))
        #expect(value["c"] == .string("x\né😀"))
        #expect(value["d"] == .array([.bool(true), .bool(false), .null]))
        #expect(value["e"] == .object([]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "tru", "{} {}",
        "\"\\ud800\"", "[1 2]", "{'a':1}", "NaN", "\"a\\u0000b\"",
    ])
    func refusesMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test func errorsNameLineAndColumn() {
        #expect {
            try JSON.parse("{\n  \"a\": 1,\n  \"b\": ?\n}")
        } throws: { error in
            let error = error as? JSONParseError
            return error?.line == 3 && error?.column == 8
        }
    }

    @Test func refusesAMemberNameGivenTwice() throws {
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(#"{"name": "a", "x": 1, "name": "b"}"#) }
        #expect(error?.message == #"member name "name" given twice"#)
        #expect(error?.column == 23, "points at the second name")
        let wide = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        #expect(throws: JSONParseError.self) { try JSON.parse("{\(wide), \"k39\": 0}") }
        #expect(throws: JSONParseError.self) { try JSON.parse("{\(wide), \"k3\": 0}") }
        #expect(try JSON.parse("{\(wide)}").objectValue?.count == 40)
        #expect(try JSON.parse(#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#).objectValue?.count == 2, "names repeat across objects")
        #expect(try JSON.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}").objectValue?.count == 2, "names differ by code points")
        let wideAccents = (0..<20).map { "\"k\($0)\": 0" }.joined(separator: ", ")
        #expect(try JSON.parse("{\(wideAccents), \"\u{E9}\": 1, \"e\u{301}\": 2}").objectValue?.count == 22)
    }

    @Test func refusesExcessiveNesting() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSON.parse(fine) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSON.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func writesCompactEscapedText() {
        let value = JSON.object([
            ("s", .string("quote\" back\\ nl\n ctl\u{01} sep\u{2028}")), ("i", .int(-3)), ("d", .double(0.5)),
            ("n", .null), ("f", .fragment("{\"raw\":true}")),
        ])
        #expect(
            value.text == #"{"s":"quote\" back\\ nl\n ctl\u0001 sep\u2028","i":-3,"d":0.5,"n":null,"f":{"raw":true}}"#)
    }

    @Test func escapesOnlyWhatMustBeEscaped() throws {
        // From U+0001: the parser refuses U+0000, which nothing stored can hold.
        let scalars = (1...0x17F).compactMap(Unicode.Scalar.init) + (0x2026...0x202A).compactMap(Unicode.Scalar.init)
            + ["😀", "\u{E2}"]
        let original = String(String.UnicodeScalarView(scalars))
        let text = JSON.string(original).text
        #expect(try JSON.parse(text) == .string(original))
        #expect(!text.utf8.contains { $0 < 0x20 })
        #expect(!text.contains("\u{2028}") && !text.contains("\u{2029}"))
        #expect(text.contains(#"\u2028\u2029"#) && text.contains("é") && text.contains("😀"))
        #expect(JSON.string("tab\tcr\rend é").text == #""tab\tcr\rend é""#)
    }

    @Test func largeIntegersStayExact() throws {
        #expect(try JSON.parse("9007199254740993") == .int(9_007_199_254_740_993))
        #expect(throws: JSONParseError.self) { try JSON.parse("1e400") }
    }

    @Test func roundTripsThroughText() throws {
        let value = JSON.object([("list", .array([.int(1), .string("two"), .object([("x", .bool(true))])]))])
        #expect(try JSON.parse(value.text) == value)
    }
}

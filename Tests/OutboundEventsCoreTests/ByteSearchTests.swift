import OutboundEventsCore
import Testing

/// `byteRange(of:)`, the substring search the library uses in place of the regex module's
/// `firstRange(of:)` (not in Embedded Swift): redaction, URL and PEM parsing depend on it.
@Suite("Byte search")
struct ByteSearchTests {
    /// The matched text, or nil.
    func found(_ text: some StringProtocol, _ needle: String) -> String? {
        text.byteRange(of: needle).map { String(text[$0]) }
    }

    @Test("finds the first occurrence, at the start, in the middle and at the end")
    func positions() {
        let text = "abc://def://"
        #expect(text.byteRange(of: "://").map { text.distance(from: text.startIndex, to: $0.lowerBound) } == 3)
        #expect(found("abc", "abc") == "abc")
        #expect(found("xxabc", "abc") == "abc")
        #expect("xxabc".byteRange(of: "abc")?.upperBound == "xxabc".endIndex)
    }

    @Test("a partial match that overlaps the real one is not skipped")
    func overlap() {
        let text = "aaab"
        let range = text.byteRange(of: "aab")
        #expect(range.map { text.distance(from: text.startIndex, to: $0.lowerBound) } == 1)
        #expect(found("ababac", "abac") == "abac")
    }

    @Test("no match: a longer needle, a needle cut off at the end, absent text")
    func absent() {
        #expect("ab".byteRange(of: "abc") == nil)
        #expect("xxab".byteRange(of: "abc") == nil)
        #expect("hello".byteRange(of: "z") == nil)
        #expect("".byteRange(of: "a") == nil)
    }

    @Test("the empty needle matches empty at the start")
    func empty() {
        let text = "abc"
        #expect(text.byteRange(of: "") == text.startIndex..<text.startIndex)
    }

    @Test("multi-byte text: indices fall on the match, before and after non-ASCII characters")
    func multiByte() {
        #expect(found("größe=½&über", "über") == "über")
        #expect(found("😀secret😀", "secret") == "secret")
        #expect(found("日本語テキスト", "テキ") == "テキ")
    }

    @Test("a Substring that does not start at the string's start gives indices into the same string")
    func substring() {
        let text = "skip://this/part://here"
        let rest = text[text.index(text.startIndex, offsetBy: 7)...]
        let range = rest.byteRange(of: "://")
        #expect(range.map { text.distance(from: text.startIndex, to: $0.lowerBound) } == 16)
        #expect(range.map { String(text[$0.upperBound...]) } == "here")
    }
}

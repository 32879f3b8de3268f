/// A strict reader for the one JSON shape the page's API takes (SPEC 13): one object whose
/// values are all strings, `{"url": "https://...", "enabled": "true"}`, as the settings are
/// strings. Anything else (another value type, a key given twice, text after the object,
/// invalid UTF-8, lone surrogates, control characters in strings) is refused with a reason.
public enum FlatJSON {
    public struct Failure: Error, Equatable, Sendable {
        public var message: String
    }

    /// Nesting is refused, so the reader's work is linear in the input and bounded by its size.
    public static func parse(_ bytes: [UInt8]) throws(Failure) -> [(key: String, value: String)] {
        var reader = Reader(bytes: bytes)
        return try reader.object()
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        func fail(_ reason: String) -> Failure { Failure(message: "bad JSON at byte \(index): \(reason)") }

        mutating func skipBlanks() {
            while index < bytes.count,
                  bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
                index += 1
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            skipBlanks()
            guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(what)") }
            index += 1
        }

        mutating func object() throws(Failure) -> [(key: String, value: String)] {
            try expect(0x7B, "{ (an object of string values)")
            var pairs: [(key: String, value: String)] = []
            var seen = Set<String>()
            skipBlanks()
            if index < bytes.count, bytes[index] == 0x7D {
                index += 1
            } else {
                while true {
                    skipBlanks()
                    guard index < bytes.count, bytes[index] == 0x22 else {
                        throw fail("expected a key in double quotes")
                    }
                    let key = try string()
                    guard seen.insert(key).inserted else { throw fail("the key \(Values.quote(key)) is given twice") }
                    try expect(0x3A, ":")
                    skipBlanks()
                    guard index < bytes.count, bytes[index] == 0x22 else {
                        throw fail("the value of \(Values.quote(key)) must be a string"
                                       + " (settings are strings: \"true\", \"30s\")")
                    }
                    pairs.append((key, try string()))
                    skipBlanks()
                    guard index < bytes.count else { throw fail("the object is not closed") }
                    if bytes[index] == 0x2C { index += 1; continue }
                    if bytes[index] == 0x7D { index += 1; break }
                    throw fail("expected , or }")
                }
            }
            skipBlanks()
            guard index == bytes.count else { throw fail("text after the object") }
            return pairs
        }

        /// A string, `index` at its opening quote.
        mutating func string() throws(Failure) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            while true {
                guard index < bytes.count else { throw fail("the string is not closed") }
                let byte = bytes[index]
                if byte == 0x22 { index += 1; return String(scalars) }
                if byte < 0x20 { throw fail("a control character in a string (write it as \\u00XX)") }
                if byte == 0x5C {
                    index += 1
                    guard index < bytes.count else { throw fail("the string is not closed") }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case 0x22: scalars.append("\"")
                    case 0x5C: scalars.append("\\")
                    case 0x2F: scalars.append("/")
                    case 0x62: scalars.append("\u{08}")
                    case 0x66: scalars.append("\u{0C}")
                    case 0x6E: scalars.append("\n")
                    case 0x72: scalars.append("\r")
                    case 0x74: scalars.append("\t")
                    case 0x75:
                        var value = try hex4()
                        if (0xD800...0xDBFF).contains(value) {
                            guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else {
                                throw fail("a lone surrogate escape")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("a lone surrogate escape") }
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(value) {
                            throw fail("a lone surrogate escape")
                        }
                        guard let scalar = Unicode.Scalar(value) else { throw fail("an invalid \\u escape") }
                        scalars.append(scalar)
                    default: throw fail("an unknown escape")
                    }
                    continue
                }
                // UTF-8, validated: one scalar at a time.
                let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC2 ? 2 : 0
                guard length > 0, index + length <= bytes.count else { throw fail("invalid UTF-8") }
                var value = length == 1 ? UInt32(byte) : UInt32(byte) & (0xFF >> UInt32(length + 1))
                var offset = 1
                while offset < length {
                    let next = bytes[index + offset]
                    guard next & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
                    value = value << 6 | UInt32(next & 0x3F)
                    offset += 1
                }
                let smallest: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : length == 4 ? 0x10000 : 0
                guard value >= smallest, let scalar = Unicode.Scalar(value) else { throw fail("invalid UTF-8") }
                scalars.append(scalar)
                index += length
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("a short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                default: throw fail("a bad \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}

/// The bodies a browser posts (SPEC 13: the page works without JavaScript): forms as
/// `application/x-www-form-urlencoded` and, for the forms with a certificate upload,
/// `multipart/form-data` (RFC 7578). Both give the fields in order; a file field gives its
/// contents. Malformed bodies are refused with a reason, never guessed at.
public enum FormData {
    public struct Failure: Error, Equatable, Sendable {
        public var message: String
    }

    /// Fields of a body of the given `Content-Type`.
    public static func parse(contentType: String, body: [UInt8]) throws(Failure) -> [(name: String, value: String)] {
        let type = contentType.split(separator: ";").first.map { Values.trimmed(String($0)).lowercased() } ?? ""
        switch type {
        case "application/x-www-form-urlencoded":
            return try urlEncoded(body)
        case "multipart/form-data":
            guard let boundary = parameter("boundary", of: contentType) else {
                throw Failure(message: "multipart/form-data without a boundary")
            }
            return try multipart(body, boundary: boundary)
        default:
            throw Failure(message: "a form must be sent as application/x-www-form-urlencoded or multipart/form-data")
        }
    }

    public static func urlEncoded(_ body: [UInt8]) throws(Failure) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for pair in body.split(separator: 0x26, omittingEmptySubsequences: true) {
            let parts = pair.split(separator: 0x3D, maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(parts[0], plusIsSpace: true),
                  let value = percentDecoded(parts.count > 1 ? parts[1] : [], plusIsSpace: true) else {
                throw Failure(message: "a form field is not valid percent-encoded UTF-8")
            }
            fields.append((name, value))
        }
        return fields
    }

    /// `%XX` decoded (and `+` as a blank in forms); nil for a bad escape or bytes that are not UTF-8.
    public static func percentDecoded<Bytes: Collection>(_ text: Bytes, plusIsSpace: Bool) -> String?
        where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            if byte == 0x25 {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            } else if byte == 0x2B && plusIsSpace {
                out.append(0x20)
            } else {
                out.append(byte)
            }
        }
        return validUTF8(out)
    }

    /// The text of bytes that are valid UTF-8, nil otherwise (never repaired: a repaired value
    /// would be a different value).
    public static func validUTF8(_ bytes: [UInt8]) -> String? {
        var scalars = String.UnicodeScalarView()
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return String(scalars)
            case .error: return nil
            }
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }

    /// A parameter of a header value: `boundary` of `multipart/form-data; boundary=xyz`.
    static func parameter(_ name: String, of header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, Values.trimmed(String(pair[0])).lowercased() == name else { continue }
            var value = Values.trimmed(String(pair[1]))
            if value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    public static func multipart(_ body: [UInt8], boundary: String) throws(Failure) -> [(name: String, value: String)] {
        guard boundary.utf8.count <= 70 else {
            throw Failure(message: "the multipart boundary is longer than 70 bytes")
        }
        let delimiter = Array(("--" + boundary).utf8)
        let separator = Array(("\r\n--" + boundary).utf8)
        guard body.count >= delimiter.count, Array(body[0..<delimiter.count]) == delimiter else {
            throw Failure(message: "the multipart body does not start with its boundary")
        }
        var fields: [(name: String, value: String)] = []
        var index = delimiter.count
        while true {
            // After a boundary: "--" ends the body, CRLF starts a part.
            guard index + 2 <= body.count else {
                throw Failure(message: "the multipart body ends without its closing boundary")
            }
            if body[index] == 0x2D && body[index + 1] == 0x2D { return fields }
            guard body[index] == 0x0D && body[index + 1] == 0x0A else {
                throw Failure(message: "a malformed multipart boundary line")
            }
            index += 2
            guard let headerEnd = body.byteRange(of: [0x0D, 0x0A, 0x0D, 0x0A], from: index) else {
                throw Failure(message: "a multipart part without the blank line after its headers")
            }
            guard let headers = validUTF8(Array(body[index..<headerEnd.lowerBound])) else {
                throw Failure(message: "multipart headers that are not UTF-8")
            }
            var name: String?
            for line in headers.split(separator: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2 else { throw Failure(message: "a malformed multipart header") }
                if Values.trimmed(String(pair[0])).lowercased() == "content-disposition" {
                    let value = String(pair[1])
                    let disposition = Values.trimmed(String(value.split(separator: ";").first ?? "")).lowercased()
                    guard disposition == "form-data" else {
                        throw Failure(message: "a multipart part that is not form-data")
                    }
                    name = parameter("name", of: value)
                }
            }
            guard let name else { throw Failure(message: "a multipart part without a field name") }
            let start = headerEnd.upperBound
            guard let end = body.byteRange(of: separator, from: start) else {
                throw Failure(message: "a multipart part without a closing boundary")
            }
            guard let value = validUTF8(Array(body[start..<end.lowerBound])) else {
                throw Failure(message: "the field \(Values.quote(name)) is not UTF-8 text")
            }
            fields.append((name, value))
            index = end.upperBound
        }
    }
}

extension Array where Element == UInt8 {
    /// The first occurrence of `needle` at or after `start`.
    func byteRange(of needle: [UInt8], from start: Int) -> Range<Int>? {
        guard !needle.isEmpty, start >= 0, count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= count {
            if self[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where self[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index..<(index + needle.count) }
            }
            index += 1
        }
        return nil
    }
}

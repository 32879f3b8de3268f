/// Output encoding for the page (OWASP's XSS prevention: encode by context). Every value the
/// page shows goes through `text`, every attribute value through `attribute`; nothing else is
/// written into HTML.
public enum HTML {
    /// Text between tags: `&`, `<`, `>` and both quotes encoded, so a recipient called
    /// `<script>` is shown as those characters.
    public static func text(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A quoted attribute value (always written in double quotes).
    public static func attribute(_ value: String) -> String { text(value) }

    /// One path segment: everything but unreserved characters percent-encoded, so a name with
    /// `/`, `?`, `#` or blanks stays one segment.
    public static func pathSegment(_ value: String) -> String {
        var out = ""
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in value.utf8 {
            let unreserved = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 15)]))
            }
        }
        return out
    }
}

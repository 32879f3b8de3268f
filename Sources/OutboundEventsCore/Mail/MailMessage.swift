/// One email as mail systems accept it (RFC 5322 with MIME): CRLF lines, a UTF-8 plain-text
/// body in quoted-printable (so no line exceeds the SMTP limit and no line starts with a dot),
/// a non-ASCII subject as RFC 2047 encoded words, and no way for a value to add a header:
/// control characters in header values become spaces.
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: [String]
    public var subject: String
    public var body: String
    public var date: Int64
    /// `local@domain`, without angle brackets.
    public var messageID: String

    public init(from: String, to: [String], subject: String, body: String, date: Int64, messageID: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.date = date
        self.messageID = messageID
    }

    /// The message as it goes to the relay after DATA.
    public func rendered() -> [UInt8] {
        var out = ""
        out += "From: \(Self.headerSafe(from))\r\n"
        out += "To: \(to.map(Self.headerSafe).joined(separator: ",\r\n "))\r\n"
        out += "Subject: \(Self.encodedSubject(subject))\r\n"
        out += "Date: \(Self.rfc5322Date(date))\r\n"
        out += "Message-ID: <\(Self.headerSafe(messageID))>\r\n"
        out += "MIME-Version: 1.0\r\n"
        out += "Content-Type: text/plain; charset=utf-8\r\n"
        out += "Content-Transfer-Encoding: quoted-printable\r\n"
        out += "Auto-Submitted: auto-generated\r\n"
        out += "\r\n"
        out += Self.quotedPrintable(body)
        return Array(out.utf8)
    }

    /// Control characters (CR and LF above all) replaced by spaces: a value can never end a
    /// header line and start another.
    public static func headerSafe(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// The subject as-is when it is printable ASCII and short, otherwise RFC 2047 base64 encoded
    /// words of at most 75 characters, folded onto continuation lines. Never splits a character.
    public static func encodedSubject(_ subject: String) -> String {
        let safe = headerSafe(subject)
        if safe.utf8.allSatisfy({ $0 < 0x7F }) && safe.utf8.count <= 70 { return safe }
        // 75 - "=?UTF-8?B?".count - "?=".count = 63 base64 characters: 45 bytes of text.
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in safe {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Quoted-printable (RFC 2045): lines of at most 76 characters, `=` and non-ASCII escaped,
    /// trailing blanks escaped, a leading dot escaped so SMTP's end-of-data can never appear.
    public static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        var lineLength = 0
        let normalized = text.replacingCRLF()
        let lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            lineLength = 0
            for (position, byte) in bytes.enumerated() {
                let isLast = position == bytes.count - 1
                func isLiteral(atLineStart: Bool) -> Bool {
                    (byte >= 0x21 && byte <= 0x7E && byte != 0x3D && !(byte == 0x2E && atLineStart))
                        || ((byte == 0x20 || byte == 0x09) && !isLast)
                }
                var literal = isLiteral(atLineStart: lineLength == 0)
                var width = literal ? 1 : 3
                if lineLength + width > 75 {
                    out += [0x3D, 0x0D, 0x0A]
                    lineLength = 0
                    literal = isLiteral(atLineStart: true)
                    width = literal ? 1 : 3
                }
                if literal {
                    out.append(byte)
                } else {
                    out += [0x3D, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
                lineLength += width
            }
            if index < lines.count - 1 { out += [0x0D, 0x0A] }
        }
        if out.last != 0x0A { out += [0x0D, 0x0A] }
        return String(decoding: out, as: UTF8.self)
    }

    /// "Sun, 29 Nov 2026 05:30:00 +0000".
    public static func rfc5322Date(_ unixSeconds: Int64) -> String {
        let iso = RFC3339.format(unixSeconds)  // 2026-11-29T05:30:00Z
        let parts = iso.split(whereSeparator: { "-T:Z".contains($0) }).map(String.init)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let day = parts[2].hasPrefix("0") ? String(parts[2].dropFirst()) : parts[2]
        return "\(weekday), \(day) \(months[Int(parts[1])! - 1]) \(parts[0]) \(parts[3]):\(parts[4]):\(parts[5]) +0000"
    }
}

extension String {
    /// CRLF and lone CR as LF.
    func replacingCRLF() -> String {
        var out = ""
        var previousCR = false
        for scalar in unicodeScalars {
            if scalar == "\r" {
                out += "\n"
                previousCR = true
                continue
            }
            if scalar == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}

/// The default body of an event email: the label, the time, then every variable, one a line.
public enum EventEmail {
    public static func defaultBody(_ values: MacroValues) -> String {
        var lines = [values.label, "Time: \(RFC3339.format(values.timestamp))", ""]
        for (name, value) in values.variables { lines.append("\(name): \(value)") }
        for (name, value) in values.customFields { lines.append("custom \(name): \(value)") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Parsers for the value types of settings: durations, sizes, booleans, lists, names and
/// email addresses. Each takes the key only to name it in the error.

/// Milliseconds. Durations are kept at this precision so tests can use short intervals.
public typealias Millis = Int64

public enum Values {
    /// Longest recipient name, in Unicode scalars (`OE_MAX_NAME_LENGTH`).
    public static let maxNameScalars = 64

    /// Longest duration accepted anywhere: ten years, far beyond any sensible retry.
    static let maxDuration: Millis = 3650 * 86_400_000

    /// `30s`, `5m`, `2h`, `1d`, `1w`, `250ms` or plain seconds (`45`).
    public static func duration(_ key: String, _ text: String) throws(ConfigError) -> Millis {
        let value = trimmed(text)
        let digits = value.prefix { $0.isASCII && $0.isNumber }
        let unit = value.dropFirst(digits.count)
        let scale: Millis? = switch unit {
        case "", "s": 1000
        case "ms": 1
        case "m": 60_000
        case "h": 3_600_000
        case "d": 86_400_000
        case "w": 604_800_000
        default: nil
        }
        guard !digits.isEmpty, digits.count <= 12, let scale, let number = Millis(digits) else {
            throw .invalid(key, "\(quote(text)) is not a duration (write 30s, 5m, 2h, 1d, 1w or plain seconds)")
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow, result <= maxDuration else {
            throw .invalid(key, "\(quote(text)) is longer than the limit of 3650d")
        }
        return result
    }

    /// A duration that must be more than zero.
    public static func positiveDuration(_ key: String, _ text: String) throws(ConfigError) -> Millis {
        let result = try duration(key, text)
        guard result > 0 else { throw .invalid(key, "must be longer than 0s") }
        return result
    }

    /// `512KiB`, `8MiB`, `1GiB` or plain bytes.
    public static func size(_ key: String, _ text: String) throws(ConfigError) -> Int {
        let value = trimmed(text)
        let digits = value.prefix { $0.isASCII && $0.isNumber }
        let unit = value.dropFirst(digits.count)
        let scale: Int? = switch unit {
        case "", "B": 1
        case "KiB": 1 << 10
        case "MiB": 1 << 20
        case "GiB": 1 << 30
        default: nil
        }
        guard !digits.isEmpty, digits.count <= 12, let scale, let number = Int(digits) else {
            throw .invalid(key, "\(quote(text)) is not a size (write 512KiB, 8MiB, 1GiB or plain bytes)")
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw .invalid(key, "\(quote(text)) is too large") }
        return result
    }

    /// `true` or `false`, nothing else, so a typo never silently means one of them.
    public static func boolean(_ key: String, _ text: String) throws(ConfigError) -> Bool {
        switch trimmed(text) {
        case "true": return true
        case "false": return false
        default: throw .invalid(key, "\(quote(text)) is not a boolean (write true or false)")
        }
    }

    /// Comma-separated, blanks around items ignored, empty items dropped.
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { trimmed(String($0)) }.filter { !$0.isEmpty }
    }

    /// Recipient names: 1 to 64 printable Unicode scalars (letters, digits, marks, punctuation
    /// and blanks; no control, format or line-separator characters, which would garble logs).
    /// Counted in scalars, not in characters as a person sees them, so that a name always fits
    /// whole in its spool slot (64 scalars are at most 256 bytes of UTF-8).
    public static func recipientName(_ name: String) throws(ConfigError) {
        guard !name.isEmpty else { throw ConfigError(.invalid, "name: must not be empty") }
        let scalars = name.unicodeScalars.count
        guard scalars <= maxNameScalars else {
            throw ConfigError(.invalid, "name: \(quote(name)) is \(scalars) Unicode scalars long;"
                                            + " the limit is \(maxNameScalars)")
        }
        let unprintable = name.unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: true
            default: false
            }
        }
        guard !unprintable else {
            throw ConfigError(.invalid, "name: \(quote(name)) must contain printable characters only")
        }
    }

    /// One email address, `local@domain`, as mail relays accept it: no blanks, no control
    /// characters, no angle brackets or commas that would break a header, a dotted domain.
    public static func emailAddress(_ key: String, _ address: String) throws(ConfigError) {
        let bytes = Array(address.utf8)
        let forbidden: Set<UInt8> = [0x20, 0x22, 0x28, 0x29, 0x2C, 0x3A, 0x3B, 0x3C, 0x3E, 0x5B, 0x5C, 0x5D]
        guard bytes.count <= 254,
              bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !forbidden.contains($0) }),
              let at = bytes.lastIndex(of: 0x40), at > 0, at < bytes.count - 1,
              bytes.filter({ $0 == 0x40 }).count == 1
        else {
            throw .invalid(key, "\(quote(address)) is not an email address (write name@example.com)")
        }
        let domain = bytes[(at + 1)...]
        guard domain.contains(0x2E), domain.first != 0x2E, domain.last != 0x2E,
              !domain.split(separator: 0x2E, omittingEmptySubsequences: false).contains(where: { $0.isEmpty })
        else {
            throw .invalid(key, "\(quote(address)) has no valid domain after the @")
        }
    }

    /// An address list of 1 to `maximum` addresses; the error names the bad one.
    public static func emailAddresses(_ key: String, _ text: String, maximum: Int = 10,
                                      allowEmpty: Bool) throws(ConfigError) -> [String] {
        let addresses = list(text)
        if addresses.isEmpty && !allowEmpty {
            throw .invalid(key, "give at least one email address")
        }
        guard addresses.count <= maximum else {
            throw .invalid(key, "\(addresses.count) addresses given; at most \(maximum) are allowed")
        }
        for address in addresses { try emailAddress(key, address) }
        return addresses
    }

    /// Text of a value for an error message: quoted, control characters escaped, long values cut.
    public static func quote(_ text: String) -> String {
        var out = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == 48 { out += "…"; break }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + hex2(UInt8(scalar.value))
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func trimmed(_ text: String) -> String {
        var slice = Substring(text)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }

    static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}

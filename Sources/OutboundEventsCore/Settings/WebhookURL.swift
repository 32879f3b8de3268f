/// A recipient URL, checked strictly when set so that a mistake is reported to the operator at
/// configuration time rather than as a delivery failure at 3 a.m.
public struct WebhookURL: Equatable, Sendable {
    public enum Scheme: String, Sendable { case http, https }

    public let text: String
    public let scheme: Scheme
    public let host: String
    /// The port written in the URL, if any.
    public let explicitPort: Int?
    /// Whether the URL carries `user:password@`, which is shown only as `user:***@`.
    let userInfoRange: Range<String.Index>?

    public var port: Int { explicitPort ?? (scheme == .https ? 443 : 80) }

    /// The URL as it may appear in logs and status: a password, or a lone token before the
    /// `@`, replaced by `***`.
    public var redacted: String {
        guard let range = userInfoRange else { return text }
        let userInfo = text[range]
        guard let colon = userInfo.firstIndex(of: ":") else {
            return String(text[..<range.lowerBound]) + "***" + String(text[range.upperBound...])
        }
        return String(text[..<colon]) + ":***" + String(text[range.upperBound...])
    }

    public init(_ key: String, _ text: String) throws(ConfigError) {
        self.text = text
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .invalid(key, "must not be empty") }
        guard bytes.count <= 2048 else { throw .invalid(key, "is longer than 2048 characters") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalid(key, "\(Values.quote(text)) contains spaces, control or non-ASCII characters (percent-encode them; write international host names in punycode)")
        }
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw .invalid(key, "\(Values.quote(text)) is not a URL (write http://host/path or https://host/path)")
        }
        guard let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased()) else {
            throw .invalid(key, "scheme \(Values.quote(String(text[..<schemeEnd.lowerBound]))) is not supported (use http or https)")
        }
        self.scheme = scheme
        let rest = text[schemeEnd.upperBound...]
        guard !rest.contains("#") else { throw .invalid(key, "must not contain a #fragment") }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            userInfoRange = authority.startIndex..<at
            authority = authority[authority.index(after: at)...]
        } else {
            userInfoRange = nil
        }
        var hostPart = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalid(key, "IPv6 address in \(Values.quote(text)) lacks its closing ]")
            }
            hostPart = authority[authority.startIndex...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalid(key, "unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
            guard Self.isValidHost(hostPart.dropFirst().dropLast()), hostPart.contains(":") else {
                throw .invalid(key, "\(Values.quote(String(hostPart))) is not an IPv6 address")
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard !hostPart.isEmpty else { throw .invalid(key, "\(Values.quote(text)) has no host") }
            guard Self.isValidHost(hostPart) else {
                throw .invalid(key, "host \(Values.quote(String(hostPart))) is not a valid host name or address")
            }
        }
        host = String(hostPart)
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let port = Int(portText), (1...65535).contains(port) else {
                throw .invalid(key, "port \(Values.quote(String(portText))) is not a number from 1 to 65535")
            }
            explicitPort = port
        } else {
            explicitPort = nil
        }
    }

    /// A DNS name, an IPv4 address, or an IPv6 address (without its brackets).
    public static func isValidHost(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        if host.contains(":") {
            return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// The rule of the cloud deployment: HTTPS to port 443 only.
    public func checkCloud(_ key: String) throws(ConfigError) {
        guard scheme == .https else {
            throw .invalid(key, "deployment is cloud: the URL must start with https:// (got \(Values.quote(redacted)))")
        }
        guard port == 443 else {
            throw .invalid(key, "deployment is cloud: only port 443 is allowed (got port \(port))")
        }
    }
}

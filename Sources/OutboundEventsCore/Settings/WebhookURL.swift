/// A recipient URL, checked strictly when set so that a mistake is reported to the operator at
/// configuration time rather than as a delivery failure at 3 a.m.
///
/// A URL carries secrets: a password or token before the `@`, a chat webhook's token in its
/// path, API keys in its query. Its only printable form is the redacted one (SPEC 8,
/// `URLRedaction`): `description`, string interpolation and every error show that. The whole
/// text is reachable only as `unredactedText`, for the transport that connects to it.
public struct WebhookURL: Equatable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, https }

    /// The URL as configured, secrets included: for libcurl, never for a person.
    public let unredactedText: String
    public let scheme: Scheme
    public let host: String
    /// The port written in the URL, if any.
    public let explicitPort: Int?

    public var port: Int { explicitPort ?? (scheme == .https ? 443 : 80) }

    /// `scheme://host[:port]/<first path segment>/…`, userinfo and query values as `***`.
    public var redacted: String { URLRedaction.redact(unredactedText) }
    public var description: String { redacted }

    /// Parses and checks `text`. Errors start with `key` and say what is wrong without
    /// repeating the URL or any part of it that could be a secret.
    public init(_ key: String, _ text: String) throws(ConfigError) {
        unredactedText = text
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .invalid(key, "must not be empty") }
        guard bytes.count <= 2048 else { throw .invalid(key, "is longer than 2048 characters") }
        if let index = bytes.firstIndex(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            let what = bytes[index] == 0x20 ? "a space"
                : bytes[index] < 0x20 || bytes[index] == 0x7F ? "a control character" : "a non-ASCII character"
            throw .invalid(key, "has \(what) at character \(index + 1) (percent-encode it;"
                                    + " write international host names in punycode; the URL is not shown)")
        }
        guard let schemeEnd = text.byteRange(of: "://") else {
            throw .invalid(key, "is not a URL (write http://host/path or https://host/path; the value is not shown)")
        }
        let schemeText = text[..<schemeEnd.lowerBound]
        guard let scheme = Scheme(rawValue: schemeText.lowercased()) else {
            let shown = schemeText.count <= 10 && schemeText.allSatisfy({ $0.isLetter })
                ? "\(Values.quote(String(schemeText))) " : ""
            throw .invalid(key, "scheme \(shown)is not supported (use http or https)")
        }
        self.scheme = scheme
        let rest = text[schemeEnd.upperBound...]
        guard !rest.contains("#") else { throw .invalid(key, "must not contain a #fragment") }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let hasUserInfo: Bool
        if let at = authority.lastIndex(of: "@") {
            authority = authority[authority.index(after: at)...]
            hasUserInfo = true
        } else {
            hasUserInfo = false
        }
        // Without an "@", a "user:password" cut short by a "/" in the password would look like
        // "host:port": nothing of the authority is echoed then.
        let echo = hasUserInfo
        var hostPart = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalid(key, "the IPv6 address lacks its closing ]")
            }
            hostPart = authority[authority.startIndex...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalid(key, "unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
            guard Self.isValidHost(hostPart.dropFirst().dropLast()), hostPart.contains(":") else {
                throw .invalid(key, "the host in brackets is not an IPv6 address")
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard !hostPart.isEmpty else { throw .invalid(key, "has no host") }
            guard Self.isValidHost(hostPart) else {
                throw .invalid(key, echo ? "host \(Values.quote(String(hostPart))) is not a valid host name or address"
                                         : "the host is not a valid host name or address"
                                             + " (a password containing / ? # or @ must be percent-encoded)")
            }
        }
        host = String(hostPart)
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let port = Int(portText), (1...65535).contains(port) else {
                throw .invalid(key, "the port is not a number from 1 to 65535"
                                        + " (a password containing / ? # or @ must be percent-encoded)")
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
            throw .invalid(key, "deployment is cloud: the URL must start with https:// (got \(redacted))")
        }
        guard port == 443 else {
            throw .invalid(key, "deployment is cloud: only port 443 is allowed (got port \(port))")
        }
    }
}

/// `http.proxy`: `http://[user:password@]host:port`. The credentials are a secret: the only
/// printable form is the redacted one (`http://***@proxy.example:3128`).
public struct ProxyURL: Equatable, Sendable, CustomStringConvertible {
    /// For libcurl only.
    public let unredactedText: String
    public let host: String
    public let port: Int

    public var redacted: String { URLRedaction.redact(unredactedText) }
    public var description: String { redacted }

    public init(_ key: String, _ text: String) throws(ConfigError) {
        let url = try WebhookURL(key, text)
        guard url.scheme == .http else {
            throw .invalid(key, "the proxy must be an http:// URL"
                                    + " (HTTPS recipients still go through it end to end, by CONNECT)")
        }
        guard let port = url.explicitPort else { throw .invalid(key, "give the proxy's port (http://host:port)") }
        let parts = URLRedaction.Parts(text)
        guard parts.path.isEmpty || parts.path == "/", parts.query == nil else {
            throw .invalid(key, "a proxy URL has no path or query (write http://[user:password@]host:port)")
        }
        unredactedText = text
        host = url.host
        self.port = port
    }
}

/// The one form in which a URL is shown outside the agent (SPEC 8):
/// `scheme://host[:port]/<first path segment>/…`, userinfo as `***`, query values as `***`.
/// Works on any text, valid URL or not (a redirect's `Location`, a proxy address), and never
/// shows more than those parts.
public enum URLRedaction {
    /// A URL-like text cut into the pieces redaction treats differently, without validating
    /// anything: the fragment is dropped, and without a `scheme://` all of it is path.
    struct Parts {
        /// "https://", when the text starts with a scheme.
        var scheme: Substring?
        var userInfo: Substring?
        /// The authority after any userinfo: host and port.
        var host: Substring = ""
        var path: Substring
        /// After the "?", without it.
        var query: Substring?

        init(_ text: String) {
            var rest = Substring(text)
            if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
            if let schemeEnd = rest.byteRange(of: "://"),
               rest[..<schemeEnd.lowerBound].allSatisfy({
                   $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0))
               }) {
                scheme = rest[..<schemeEnd.upperBound]
                rest = rest[schemeEnd.upperBound...]
                let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
                host = rest[..<authorityEnd]
                if let at = host.lastIndex(of: "@") {
                    userInfo = host[..<at]
                    host = host[host.index(after: at)...]
                }
                rest = rest[authorityEnd...]
            }
            let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
            path = rest[..<queryStart]
            if queryStart < rest.endIndex { query = rest[rest.index(after: queryStart)...] }
        }
    }

    public static func redact(_ text: String) -> String {
        let parts = Parts(text)
        var out = ""
        if let scheme = parts.scheme {
            out += scheme
            if parts.userInfo != nil { out += "***@" }
            out += parts.host
        }
        let segments = parts.path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.path.hasPrefix("/") {
            // segments[0] is the empty text before the leading "/".
            out += "/"
            if segments.count > 1 {
                out += segments[1]
                if segments.count > 2 {
                    out += segments.dropFirst(2).allSatisfy { $0.isEmpty } && segments.count == 3 ? "/" : "/…"
                }
            }
        } else if !parts.path.isEmpty {
            // No scheme: the first segment may still be "user:password@host".
            var first = segments[0]
            if let at = first.lastIndex(of: "@") {
                out += "***@"
                first = first[first.index(after: at)...]
            }
            out += segments.count > 1 ? "\(first)/…" : first
        }
        if let query = parts.query {
            let parameters = query.split(separator: "&", omittingEmptySubsequences: false).map { parameter in
                guard let equals = parameter.firstIndex(of: "=") else { return parameter.isEmpty ? "" : "***" }
                return parameter[..<equals] + "=***"
            }
            out += "?" + parameters.joined(separator: "&")
        }
        return out
    }
}

extension URLRedaction {
    /// The parts of `url` its redacted form hides: the userinfo (and its user and password),
    /// every path segment after the first, every query value. For scrubbing text a peer sends
    /// back (an error page that echoes the request's path), where the URL is not a URL any more.
    public static func secrets(of url: String) -> [String] {
        let url = Parts(url)
        var parts: [Substring] = []
        if let userInfo = url.userInfo {
            parts.append(userInfo)
            parts += userInfo.split(separator: ":", maxSplits: 1)
        }
        parts += url.path.split(separator: "/").dropFirst()
        for parameter in url.query?.split(separator: "&") ?? [] {
            if let equals = parameter.firstIndex(of: "=") {
                parts.append(parameter[parameter.index(after: equals)...])
            } else {
                parts.append(parameter)
            }
        }
        // As sent and percent-decoded (a peer may echo either); longest first, so a part is
        // never left half shown by a shorter one inside it.
        var secrets = Set<String>()
        for part in parts where part.count >= 3 {
            secrets.insert(String(part))
            if let decoded = percentDecoded(part), decoded.count >= 3 { secrets.insert(decoded) }
        }
        return secrets.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    /// `%XX` sequences (and `+`) decoded, when the text has any and the result is UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") || text.contains("+") else { return nil }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? 0x20 : byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// `text` with every occurrence of `secrets` replaced by `***`. Each pass searches only
    /// after its last replacement, so a secret that `***` contains cannot loop.
    public static func scrub(_ text: String, secrets: [String]) -> String {
        var out = text
        for secret in secrets where !secret.isEmpty {
            var result = ""
            var rest = Substring(out)
            while let range = rest.byteRange(of: secret) {
                result += rest[..<range.lowerBound]
                result += "***"
                rest = rest[range.upperBound...]
            }
            result += rest
            out = result
        }
        return out
    }
}

/// A secret setting (`signing_secret`, `smtp.password`): its only printable form is `***`, so
/// it cannot reach a log line, a status document or an error by accident. The bytes are read
/// only where they are used (an HMAC key, libcurl's password option).
public struct Secret: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let unredactedBytes: [UInt8]

    public init(_ bytes: [UInt8]) { unredactedBytes = bytes }
    public init(_ text: String) { unredactedBytes = Array(text.utf8) }

    public var isEmpty: Bool { unredactedBytes.isEmpty }
    public var description: String { isEmpty ? "" : "***" }
    public var debugDescription: String { description }
    /// The secret as text, for a C API that takes a string.
    public var unredactedText: String { String(decoding: unredactedBytes, as: UTF8.self) }
}

/// The settings of the Outbound Events page and its API (SPEC 13): daemon-only keys of
/// `outbound-eventsd`'s configuration file. The library refuses them (`oe_agent_new` knows only
/// the agent's keys); `outbound-events check` and the daemon accept them beside the agent's.
public struct AdminSettings: Sendable, Equatable {
    /// The Unix socket of the page and the API; empty: none.
    public var socket = ""
    /// `ADDRESS:PORT` of the TCP listener, which requires a login; nil: none.
    public var listen: ListenAddress?
    /// `admin-password`'s hash of the login password (scrypt); empty: no login possible.
    public var passwordHash = ""
    /// The session cookie is marked `Secure` (the front web server speaks HTTPS).
    public var secureCookie = false
    /// Where changes made on the page are kept; empty: `managed.conf` beside the spool.
    public var stateFile = ""

    public static let keys = ["admin.socket", "admin.listen", "admin.password_hash", "admin.secure_cookie",
                              "admin.state_file"]
    /// Keys read when the daemon starts; a reload that changes them is refused (restart to change).
    public static let fixedAtStart: Set<String> = ["admin.socket", "admin.listen", "admin.state_file"]

    public static func isAdminKey(_ key: String) -> Bool { key.hasPrefix("admin.") }

    public init() {}

    public mutating func set(_ key: String, _ value: String) throws(ConfigError) {
        switch key {
        case "admin.socket":
            try Settings.path(key, value)
            guard value.isEmpty || value.hasPrefix("/") else { throw .invalid(key, "give an absolute path") }
            guard value.utf8.count < 108 else {
                throw .invalid(key, "is longer than a Unix socket path may be (107 bytes)")
            }
            socket = value
        case "admin.listen":
            listen = value.isEmpty ? nil : try ListenAddress(key, value)
        case "admin.password_hash":
            guard value.isEmpty || PasswordHashFormat(value) != nil else {
                throw .invalid(key, "not a hash made by `outbound-events admin-password` (the value is not shown)")
            }
            passwordHash = value
        case "admin.secure_cookie": secureCookie = try Values.boolean(key, value)
        case "admin.state_file":
            try Settings.path(key, value)
            guard value.isEmpty || value.hasPrefix("/") else { throw .invalid(key, "give an absolute path") }
            stateFile = value
        default:
            throw Settings.unknownKey(key, kind: "daemon", known: Self.keys)
        }
    }

    /// Problems between keys, once all are set: the key to report and why.
    public func crossProblems() -> [ConfigError] {
        if listen != nil && passwordHash.isEmpty {
            return [.invalid("admin.listen",
                             "needs admin.password_hash (make one with `outbound-events admin-password`):"
                                 + " the TCP listener requires a login")]
        }
        return []
    }

    /// The state file: the one given, or `managed.conf` beside the spool.
    public func stateFilePath(spool: String) -> String {
        if !stateFile.isEmpty { return stateFile }
        let directory = spool.contains("/") ? String(spool[..<spool.lastIndex(of: "/")!]) : "."
        return (directory.isEmpty ? "" : directory) + "/managed.conf"
    }
}

/// `ADDRESS:PORT` for the TCP listener: an IPv4 address, or an IPv6 one in brackets.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public init(_ key: String, _ value: String) throws(ConfigError) {
        let bad = ConfigError.invalid(key, "\(Values.quote(value)) is not ADDRESS:PORT"
                                               + " (for example 127.0.0.1:8080 or [::1]:8080)")
        guard let colon = value.lastIndex(of: ":") else { throw bad }
        var host = String(value[..<colon])
        let portText = String(value[value.index(after: colon)...])
        guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(portText), (1...65535).contains(port) else {
            throw .invalid(key, "\(Values.quote(value)): the port must be 1 to 65535")
        }
        isIPv6 = host.hasPrefix("[") && host.hasSuffix("]")
        if isIPv6 {
            host = String(host.dropFirst().dropLast())
            guard !host.isEmpty, host.utf8.allSatisfy({ Self.isHexDigit($0) || $0 == 0x3A || $0 == 0x2E }) else {
                throw bad
            }
        } else {
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts.allSatisfy({ part in
                !part.isEmpty && part.count <= 3 && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                    && Int(part)! <= 255
            }) else { throw bad }
        }
        self.host = host
        self.port = port
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }
}

/// The text of a password hash made by `outbound-events admin-password`:
/// `$scrypt$ln=LOG2N,r=R,p=P$SALT$HASH` (salt and hash in base64). The key derivation itself
/// is OpenSSL's (TLSMaterial's `PasswordHash`); this is only the format, checked when the
/// setting is read.
public struct PasswordHashFormat: Sendable, Equatable {
    public var logN: Int
    public var r: Int
    public var p: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    public init(logN: Int, r: Int, p: Int, salt: [UInt8], hash: [UInt8]) {
        self.logN = logN
        self.r = r
        self.p = p
        self.salt = salt
        self.hash = hash
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var logN = 0, r = 0, p = 0
        for parameter in parts[2].split(separator: ",") {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[1].count <= 3, let number = Int(pair[1]) else { return nil }
            switch pair[0] {
            case "ln": logN = number
            case "r": r = number
            case "p": p = number
            default: return nil
            }
        }
        // Bounds that keep a login within the memory and time an appliance has.
        guard (10...20).contains(logN), (1...32).contains(r), (1...16).contains(p),
              let salt = Base64.decode(parts[3]), salt.count >= 8, salt.count <= 64,
              let hash = Base64.decode(parts[4]), hash.count >= 16, hash.count <= 64 else { return nil }
        self.init(logN: logN, r: r, p: p, salt: salt, hash: hash)
    }

    public var text: String {
        "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(Base64.encode(salt))$\(Base64.encode(hash))"
    }
}

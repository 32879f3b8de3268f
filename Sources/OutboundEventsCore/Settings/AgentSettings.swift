public enum Deployment: String, Sendable { case appliance, cloud }
public enum OverflowPolicy: String, Sendable { case dropOldest = "drop_oldest", reject }
public enum LogDestination: String, Sendable { case journal, stderr, none }
public enum SMTPEncryption: String, Sendable { case none, starttls, tls }

/// The SMTP relay every email (recipients and alerts) goes through.
public struct SMTPSettings: Sendable, Equatable {
    public var host = ""
    /// 0: the usual port of the encryption (465 for tls, 25 otherwise).
    public var port = 0
    public var encryption = SMTPEncryption.starttls
    public var username = ""
    public var password = Secret([])
    public var from = ""
    public var caCertificate = ""
    public var retryInterval: Millis = 60_000

    public var effectivePort: Int { port != 0 ? port : (encryption == .tls ? 465 : 25) }
    public var isConfigured: Bool { !host.isEmpty }
}

/// The agent's own settings (SPEC section 4), with their defaults.
public struct AgentSettings: Sendable, Equatable {
    public var applianceID = ""
    public var deployment = Deployment.appliance
    public var firmwareProfile = ""
    public var queueCapacity = 4 << 20
    public var queueOverflow = OverflowPolicy.dropOldest
    public var queueSpool = ""
    public var spoolGrace: Millis = 60_000
    /// How often, at the least, a changing spool (or intake) is made durable (SPEC 11).
    public var syncInterval: Millis = 1000
    public var connectTimeout: Millis = 10_000
    public var requestTimeout: Millis = 30_000
    /// The HTTP proxy every webhook goes through (`CONNECT` for HTTPS), nil: none. Proxies from
    /// the environment are never used.
    public var proxy: ProxyURL?
    /// Hosts and domains reached directly, not through `proxy`.
    public var noProxy: [String] = []
    public var shutdownTimeout: Millis = 5_000
    public var statusPath = ""
    public var smtp = SMTPSettings()
    public var logIdentifier = "outbound-events"
    public var logDestination = LogDestination.journal

    public static let keys = [
        "appliance_id", "deployment", "firmware_profile", "queue.capacity", "queue.overflow",
        "queue.spool", "queue.spool_grace", "queue.sync_interval", "http.connect_timeout", "http.request_timeout",
        "http.proxy", "http.no_proxy", "shutdown_timeout", "status.path", "smtp.host", "smtp.port", "smtp.encryption",
        "smtp.username", "smtp.password", "smtp.from", "smtp.ca_certificate", "smtp.retry_interval",
        "log.identifier", "log.destination",
    ]

    /// Keys whose value is fixed once the agent runs: they shape its queue and catalog.
    public static let fixedAtCreation: Set<String> = ["queue.capacity", "queue.spool", "firmware_profile"]

    /// Smallest and largest queue: room for a few small events, and what an appliance can map.
    public static let capacityRange = SpoolHeader.capacityRange
    public static let syncIntervalRange: ClosedRange<Millis> = 10...60_000

    public init() {}

    /// Applies settings on top of these; throws on the first bad one (the caller keeps the
    /// original, so nothing changes).
    public mutating func apply(_ settings: [(key: String, value: String)]) throws(ConfigError) {
        try Settings.rejectDuplicates(settings)
        for (key, value) in settings { try set(key, value) }
    }

    public mutating func set(_ key: String, _ value: String) throws(ConfigError) {
        switch key {
        case "appliance_id":
            try Settings.plainText(key, value, maximum: 255)
            applianceID = value
        case "deployment":
            guard let parsed = Deployment(rawValue: value) else {
                throw .invalid(key, "\(Values.quote(value)) is not a deployment (write appliance or cloud)")
            }
            deployment = parsed
        case "firmware_profile":
            try Settings.path(key, value)
            firmwareProfile = value
        case "queue.capacity":
            let size = try Values.size(key, value)
            guard Self.capacityRange.contains(size) else {
                throw .invalid(key, "\(Values.quote(value)) is outside 1KiB to 1GiB")
            }
            queueCapacity = size
        case "queue.overflow":
            guard let parsed = OverflowPolicy(rawValue: value) else {
                throw .invalid(key, "\(Values.quote(value)) is not an overflow policy (write drop_oldest or reject)")
            }
            queueOverflow = parsed
        case "queue.spool":
            try Settings.path(key, value)
            queueSpool = value
        case "queue.spool_grace": spoolGrace = try Values.duration(key, value)
        case "queue.sync_interval":
            let interval = try Values.duration(key, value)
            guard Self.syncIntervalRange.contains(interval) else {
                throw .invalid(key, "\(Values.quote(value)) is outside 10ms to 1m")
            }
            syncInterval = interval
        case "http.connect_timeout": connectTimeout = try Values.positiveDuration(key, value)
        case "http.request_timeout": requestTimeout = try Values.positiveDuration(key, value)
        case "http.proxy": proxy = value.isEmpty ? nil : try ProxyURL(key, value)
        case "http.no_proxy":
            let hosts = Values.list(value)
            for host in hosts {
                // "example.com" also covers its subdomains; ".example.com" is accepted as well.
                let name = host.hasPrefix(".") ? host.dropFirst() : Substring(host)
                guard host == "*" || WebhookURL.isValidHost(name) else {
                    throw .invalid(key, "\(Values.quote(host)) is not a host name, domain or address")
                }
            }
            noProxy = hosts
        case "shutdown_timeout": shutdownTimeout = try Values.duration(key, value)
        case "status.path":
            try Settings.path(key, value)
            statusPath = value
        case "smtp.host":
            if !value.isEmpty { try Settings.hostName(key, value) }
            smtp.host = value
        case "smtp.port":
            guard value.isEmpty || (value.utf8.count <= 5 && value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }),
                  let port = value.isEmpty ? 0 : Int(value), (0...65535).contains(port) else {
                throw .invalid(key, "\(Values.quote(value)) is not a port from 1 to 65535")
            }
            smtp.port = port
        case "smtp.encryption":
            guard let parsed = SMTPEncryption(rawValue: value) else {
                throw .invalid(key, "\(Values.quote(value)) is not an encryption (write none, starttls or tls)")
            }
            smtp.encryption = parsed
        case "smtp.username":
            try Settings.plainText(key, value, maximum: 255)
            smtp.username = value
        case "smtp.password":
            guard !value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }), value.utf8.count <= 1024 else {
                throw .invalid(key, "must be one line of at most 1024 bytes (the value is not shown)")
            }
            smtp.password = Secret(value)
        case "smtp.from":
            if !value.isEmpty { try Values.emailAddress(key, value) }
            smtp.from = value
        case "smtp.ca_certificate": smtp.caCertificate = value
        case "smtp.retry_interval": smtp.retryInterval = try Values.positiveDuration(key, value)
        case "log.identifier":
            guard !value.isEmpty, value.utf8.count <= 64,
                  value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw .invalid(key, "\(Values.quote(value)) must be 1 to 64 printable characters without blanks")
            }
            logIdentifier = value
        case "log.destination":
            guard let parsed = LogDestination(rawValue: value) else {
                throw .invalid(key, "\(Values.quote(value)) is not a log destination (write journal, stderr or none)")
            }
            logDestination = parsed
        default:
            throw Settings.unknownKey(key, kind: "agent", known: Self.keys)
        }
    }
}

/// Checks shared by the settings of the agent and of recipients.
public enum Settings {
    public static func rejectDuplicates(_ settings: [(key: String, value: String)]) throws(ConfigError) {
        var seen = Set<String>()
        for (key, _) in settings where !seen.insert(key).inserted {
            throw .invalid(key, "given twice in one call")
        }
    }

    public static func unknownKey(_ key: String, kind: String, known: [String]) -> ConfigError {
        ConfigError(.invalid, "\(Values.quote(key)): unknown \(kind) setting (known: \(known.joined(separator: ", ")))")
    }

    /// One line of text without control characters, for values that reach headers or logs.
    static func plainText(_ key: String, _ value: String, maximum: Int) throws(ConfigError) {
        guard value.utf8.count <= maximum else { throw .invalid(key, "is longer than \(maximum) bytes") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalid(key, "must not contain control characters (CR, LF, tab, ...)")
        }
    }

    static func path(_ key: String, _ value: String) throws(ConfigError) {
        try plainText(key, value, maximum: 4096)
        guard value.isEmpty || value.hasPrefix("/") || value.hasPrefix(".") || !value.hasPrefix("~") else {
            throw .invalid(key, "\(Values.quote(value)): ~ is not expanded; give an absolute path")
        }
    }

    static func hostName(_ key: String, _ value: String) throws(ConfigError) {
        guard WebhookURL.isValidHost(Substring(value)) else {
            throw .invalid(key, "\(Values.quote(value)) is not a host name or address")
        }
    }
}

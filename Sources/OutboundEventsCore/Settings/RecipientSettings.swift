/// Which events of the profile a recipient wants: one flag per profile event, by index.
public struct EventSelection: Sendable, Equatable {
    public var wanted: [Bool]
    public var isAll: Bool

    public func contains(_ index: Int) -> Bool { index < wanted.count && wanted[index] }

    /// `all`, or a comma-separated list of event names. `capable` says which events this kind
    /// of recipient may select; `all` means every capable one.
    static func parse(_ key: String, _ value: String, profile: FirmwareProfile, kind: String,
                      capable: (EventType) -> Bool) throws(ConfigError) -> EventSelection {
        let names = Values.list(value)
        if names == ["all"] {
            return EventSelection(wanted: profile.events.map(capable), isAll: true)
        }
        guard !names.isEmpty else { throw .invalid(key, "empty; give event names or all") }
        var wanted = Array(repeating: false, count: profile.events.count)
        for name in names {
            guard name != "all" else { throw .invalid(key, "all cannot be combined with event names") }
            guard let index = profile.index(of: name) else {
                throw .invalid(key, "\(Values.quote(name)) is not an event of the \(profile.name) profile"
                                        + " (events: \(profile.events.map { $0.name }.joined(separator: ", ")))")
            }
            guard capable(profile.events[index]) else {
                throw .invalid(key, "\(name) cannot be sent to \(kind) recipients")
            }
            wanted[index] = true
        }
        return EventSelection(wanted: wanted, isAll: false)
    }
}

/// How an HTTP recipient's bodies are written (SPEC 1 and 10).
public enum BodyFormat: String, Sendable {
    /// `application/x-www-form-urlencoded`: the appliance's wire format.
    case form
    /// `application/json` in the Standard Webhooks shape: `{"type", "timestamp", "data"}`.
    case json

    public var contentType: String {
        switch self {
        case .form: "application/x-www-form-urlencoded; charset=utf-8"
        case .json: "application/json"
        }
    }
}

/// An HTTP recipient's whole configuration (SPEC section 4).
public struct HTTPRecipientSettings: Sendable, Equatable {
    public var url: WebhookURL?
    public var enabled = true
    public var caCertificate = ""
    public var sendCustomFields = false
    public var events: EventSelection
    public var retryInterval: Millis = 60_000
    public var retryDuration: Millis = 86_400_000
    public var emailContacts: [String] = []
    public var emailAlertAfter: Millis = 3_600_000
    public var emailAlertResend: Millis = 86_400_000
    /// The HMAC keys, one per secret (up to three, for rotation): a `whsec_` secret
    /// base64-decoded, any other secret as its bytes.
    public var signingKeys: [Secret] = []
    public var bodyFormat = BodyFormat.form

    public static let keys = [
        "url", "enabled", "ca_certificate", "send_custom_fields", "events", "retry_interval",
        "retry_duration", "email_contacts", "email_alert_after", "email_alert_resend", "signing_secret",
        "body_format",
    ]
    /// Secrets `signing_secret` takes at once: the current one and those being rotated in or out.
    public static let maxSigningSecrets = 3

    /// Defaults, then the profile's `default.http.*`, then `settings`; `url` is required.
    public init(_ settings: [(key: String, value: String)], profile: FirmwareProfile,
                deployment: Deployment) throws(ConfigError) {
        try Settings.rejectDuplicates(settings)
        self.init(profile: profile)
        for (key, value) in profile.httpDefaults {
            do { try set(key, value, profile: profile) } catch {
                throw ConfigError(error.code, "firmware profile default.http.\(error.message)")
            }
        }
        for (key, value) in settings { try set(key, value, profile: profile) }
        guard let url else { throw .invalid("url", "required for an HTTP recipient") }
        if deployment == .cloud { try url.checkCloud("url") }
    }

    init(profile: FirmwareProfile) {
        events = EventSelection(wanted: profile.events.map { $0.http }, isAll: true)
    }

    mutating func set(_ key: String, _ value: String, profile: FirmwareProfile) throws(ConfigError) {
        switch key {
        case "url": url = try WebhookURL(key, value)
        case "enabled": enabled = try Values.boolean(key, value)
        case "ca_certificate": caCertificate = value
        case "send_custom_fields": sendCustomFields = try Values.boolean(key, value)
        case "events":
            events = try EventSelection.parse(key, value, profile: profile, kind: "HTTP", capable: { $0.http })
        case "retry_interval": retryInterval = try Values.positiveDuration(key, value)
        case "retry_duration": retryDuration = try Values.duration(key, value)
        case "email_contacts":
            emailContacts = try Values.emailAddresses(key, value, allowEmpty: true)
        case "email_alert_after": emailAlertAfter = try Values.duration(key, value)
        case "email_alert_resend": emailAlertResend = try Values.positiveDuration(key, value)
        case "signing_secret": signingKeys = try Self.decodeSecrets(value)
        case "body_format":
            guard let format = BodyFormat(rawValue: value) else {
                throw .invalid(key, "\(Values.quote(value)) is not a body format (write form or json)")
            }
            bodyFormat = format
        default: throw Settings.unknownKey(key, kind: "HTTP recipient", known: Self.keys)
        }
    }

    /// Up to three secrets separated by blanks (rotation: `webhook-signature` then carries one
    /// signature per secret). Empty: no signature. Errors name which secret, never its text.
    public static func decodeSecrets(_ value: String) throws(ConfigError) -> [Secret] {
        let secrets = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard secrets.count <= maxSigningSecrets else {
            throw .invalid("signing_secret",
                           "\(secrets.count) secrets given; at most \(maxSigningSecrets) are allowed,"
                               + " separated by spaces (the values are not shown)")
        }
        var keys: [Secret] = []
        for (index, secret) in secrets.enumerated() {
            do throws(ConfigError) {
                keys.append(try decodeSecret(String(secret)))
            } catch {
                guard secrets.count > 1 else { throw error }
                throw .invalid("signing_secret", "secret \(index + 1) of \(secrets.count): "
                                                     + error.message.dropFirst("signing_secret: ".count))
            }
        }
        return keys
    }

    /// Standard Webhooks: `whsec_<base64>` is decoded; any other secret is used as its bytes.
    /// Errors never repeat the secret.
    public static func decodeSecret(_ secret: String) throws(ConfigError) -> Secret {
        if secret.hasPrefix("whsec_") {
            guard let key = Base64.decode(secret.dropFirst(6)), !key.isEmpty else {
                throw .invalid("signing_secret", "the part after whsec_ is not valid base64 (the value is not shown)")
            }
            return Secret(key)
        }
        return Secret(secret)
    }
}

/// An email recipient's whole configuration (SPEC section 4).
public struct EmailRecipientSettings: Sendable, Equatable {
    public var addresses: [String] = []
    public var enabled = true
    public var requireExternalKey = false
    public var events: EventSelection
    public var subject: Template
    public var body: Template?
    public var retryDuration: Millis = 86_400_000

    public static let keys = [
        "addresses", "enabled", "require_external_key", "events", "subject", "body", "retry_duration",
    ]
    public static let defaultSubject = "%EVENT_LABEL%: session %LSID%"

    /// Defaults, then the profile's `default.email.*`, then `settings`; `addresses` is required.
    public init(_ settings: [(key: String, value: String)], profile: FirmwareProfile) throws(ConfigError) {
        try Settings.rejectDuplicates(settings)
        self.init(profile: profile)
        for (key, value) in profile.emailDefaults {
            do { try set(key, value, profile: profile) } catch {
                throw ConfigError(error.code, "firmware profile default.email.\(error.message)")
            }
        }
        for (key, value) in settings { try set(key, value, profile: profile) }
        guard !addresses.isEmpty else { throw .invalid("addresses", "required for an email recipient") }
    }

    init(profile: FirmwareProfile) {
        events = EventSelection(wanted: profile.events.map { $0.email }, isAll: true)
        subject = try! Template("subject", Self.defaultSubject)
    }

    mutating func set(_ key: String, _ value: String, profile: FirmwareProfile) throws(ConfigError) {
        switch key {
        case "addresses": addresses = try Values.emailAddresses(key, value, allowEmpty: false)
        case "enabled": enabled = try Values.boolean(key, value)
        case "require_external_key": requireExternalKey = try Values.boolean(key, value)
        case "events":
            events = try EventSelection.parse(key, value, profile: profile, kind: "email", capable: { $0.email })
        case "subject": subject = try Template(key, value)
        case "body": body = value.isEmpty ? nil : try Template(key, value)
        case "retry_duration": retryDuration = try Values.duration(key, value)
        default: throw Settings.unknownKey(key, kind: "email recipient", known: Self.keys)
        }
    }
}

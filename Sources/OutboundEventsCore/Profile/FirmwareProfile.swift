/// One event type a firmware can emit.
public struct EventType: Sendable, Equatable {
    public let name: String
    public let label: String
    public let http: Bool
    public let email: Bool
    /// The name as bytes, so `oe_emit` can look an event up without making a String.
    public let nameBytes: [UInt8]
}

/// What the firmware that links the agent declares: its schema version, its event catalog and
/// its defaults for recipient settings. Parsed from `key = value` lines.
public struct FirmwareProfile: Sendable, Equatable {
    public let name: String
    public let version: String
    public let events: [EventType]
    /// `default.http.<key>` and `default.email.<key>` lines, in file order.
    public let httpDefaults: [(key: String, value: String)]
    public let emailDefaults: [(key: String, value: String)]

    public static func == (a: FirmwareProfile, b: FirmwareProfile) -> Bool {
        a.name == b.name && a.version == b.version && a.events == b.events
            && a.httpDefaults.elementsEqual(b.httpDefaults, by: ==)
            && a.emailDefaults.elementsEqual(b.emailDefaults, by: ==)
    }

    /// The B Series profile built into the library.
    public static let bSeries: FirmwareProfile = {
        do throws(ConfigError) {
            return try FirmwareProfile(parsing: embeddedBSeriesText, source: "built-in B Series profile")
        } catch {
            fatalError("the built-in profile does not parse: \(error)")
        }
    }()

    public func index(of name: String) -> Int? {
        events.firstIndex { $0.name == name }
    }

    /// Looks an event up by its bytes (a C string without its NUL), allocating nothing.
    public func index(of name: UnsafeRawBufferPointer) -> Int? {
        guard name.count > 0 else { return nil }
        let last = name[name.count - 1]
        var i = 0
        while i < events.count {
            // Names share long prefixes ("support_conference_"): the length and the last byte
            // rule out almost every other event before any full comparison.
            let stored = events[i].nameBytes
            if stored.count == name.count && stored[stored.count - 1] == last,
               stored.withUnsafeBytes({ Fields.equal($0, name) }) {
                return i
            }
            i += 1
        }
        return nil
    }

    /// Parses a profile. `source` names the file in errors: "<source> line N: what is wrong".
    public init(parsing text: String, source: String) throws(ConfigError) {
        func fail(_ line: Int, _ reason: String) -> ConfigError {
            ConfigError(.invalid, "firmware_profile: \(source) line \(line): \(reason)")
        }
        var name: String?
        var version: String?
        var order: [String] = []
        var labels: [String: String] = [:]
        var http: [String: Bool] = [:]
        var email: [String: Bool] = [:]
        var httpDefaults: [(key: String, value: String)] = []
        var emailDefaults: [(key: String, value: String)] = []

        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = number + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let content = Values.trimmed(String(line))
            if content.isEmpty || content.hasPrefix("#") { continue }
            guard let equals = content.firstIndex(of: "=") else {
                throw fail(lineNumber, "expected \"key = value\", got \(Values.quote(content))")
            }
            let key = Values.trimmed(String(content[..<equals]))
            let value = Values.trimmed(String(content[content.index(after: equals)...]))
            let parts = key.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            switch parts.first {
            case "name" where parts.count == 1:
                guard !value.isEmpty else { throw fail(lineNumber, "name must not be empty") }
                name = value
            case "version" where parts.count == 1:
                guard !value.isEmpty, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    throw fail(lineNumber, "version must be printable text without blanks")
                }
                version = value
            case "event" where parts.count == 3:
                let event = parts[1]
                guard Self.isMachineName(event) else {
                    throw fail(lineNumber, "event name \(Values.quote(event))"
                                               + " must be 1 to 64 lowercase letters, digits or underscores")
                }
                if labels[event] == nil && http[event] == nil && email[event] == nil { order.append(event) }
                switch parts[2] {
                case "label":
                    guard !value.isEmpty else { throw fail(lineNumber, "label of \(event) must not be empty") }
                    labels[event] = value
                case "http", "email":
                    let flag: Bool
                    do { flag = try Values.boolean(key, value) } catch { throw fail(lineNumber, error.message) }
                    if parts[2] == "http" { http[event] = flag } else { email[event] = flag }
                default:
                    throw fail(lineNumber, "unknown key \(Values.quote(key)) (events have label, http and email)")
                }
            case "default" where parts.count == 3 && (parts[1] == "http" || parts[1] == "email"):
                if parts[1] == "http" {
                    httpDefaults.append((parts[2], value))
                } else {
                    emailDefaults.append((parts[2], value))
                }
            default:
                throw fail(lineNumber, "unknown key \(Values.quote(key))")
            }
        }
        guard let name else { throw ConfigError(.invalid, "firmware_profile: \(source): no name line") }
        guard let version else { throw ConfigError(.invalid, "firmware_profile: \(source): no version line") }
        guard !order.isEmpty else { throw ConfigError(.invalid, "firmware_profile: \(source): declares no event") }
        var events: [EventType] = []
        for event in order {
            guard let label = labels[event] else {
                throw ConfigError(.invalid, "firmware_profile: \(source): event \(event) has no label")
            }
            let canHTTP = http[event] ?? false
            let canEmail = email[event] ?? false
            guard canHTTP || canEmail else {
                throw ConfigError(.invalid, "firmware_profile: \(source): event \(event) is neither http nor email")
            }
            events.append(EventType(name: event, label: label, http: canHTTP, email: canEmail,
                                    nameBytes: Array(event.utf8)))
        }
        self.name = name
        self.version = version
        self.events = events
        self.httpDefaults = httpDefaults
        self.emailDefaults = emailDefaults
    }

    static func isMachineName(_ text: String) -> Bool {
        let bytes = text.utf8
        return !bytes.isEmpty && bytes.count <= 64
            && bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

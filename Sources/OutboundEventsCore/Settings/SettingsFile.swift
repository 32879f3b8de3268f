/// The settings file of the `outbound-events` tool: the C ABI's keys, written down.
///
///     # comment
///     appliance_id = bseries-01           agent settings come first
///     [http ticketing]                     an HTTP recipient called "ticketing"
///     url = https://tickets.example.com/hook
///     ca_certificate = @/etc/ssl/tickets-ca.pem
///     [email "on call"]                    an email recipient; quotes allow blanks in names
///     addresses = oncall@example.com
///
/// A value starting with `@` is the contents of that file (PEM certificates, templates); write
/// `@@` for a value that starts with a literal `@`.
public struct SettingsFile: Sendable {
    public struct Setting: Sendable {
        public var key: String
        public var value: String
        /// The file a `@path` value names; the caller reads it.
        public var file: String?
        public var line: Int

        public init(key: String, value: String, file: String? = nil, line: Int) {
            self.key = key
            self.value = value
            self.file = file
            self.line = line
        }
    }

    public struct Recipient: Sendable {
        public enum Kind: String, Sendable { case http, email }
        public var kind: Kind
        public var name: String
        public var line: Int
        public var settings: [Setting]
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    public var agent: [Setting] = []
    public var recipients: [Recipient] = []
    /// Lines that are not settings, sections, blanks or comments.
    public var problems: [Problem] = []

    public init(parsing text: String) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Values.trimmed(String(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    problems.append(Problem(line: number, message: "a section must end with ]"))
                    continue
                }
                line = Values.trimmed(String(line.dropFirst().dropLast()))
                let kindText = String(line.prefix { $0 != " " && $0 != "\t" })
                var name = Values.trimmed(String(line.dropFirst(kindText.count)))
                if name.count >= 2 && name.hasPrefix("\"") && name.hasSuffix("\"") {
                    name = String(name.dropFirst().dropLast())
                }
                guard let kind = Recipient.Kind(rawValue: kindText) else {
                    problems.append(Problem(line: number,
                                            message: "unknown section \(Values.quote(kindText))"
                                                + " (write [http NAME] or [email NAME])"))
                    continue
                }
                recipients.append(Recipient(kind: kind, name: name, line: number, settings: []))
                continue
            }
            // A malformed line may be a secret with its "=" forgotten ("smtp.password hunter2"):
            // problems name the line, never its text.
            guard let equals = line.firstIndex(of: "=") else {
                problems.append(Problem(line: number,
                                        message: "expected \"key = value\" (the line has no \"=\"; it is not shown)"))
                continue
            }
            let key = Values.trimmed(String(line[..<equals]))
            guard !key.isEmpty, key.utf8.count <= 64, key.utf8.allSatisfy({ Self.isKeyByte($0) }) else {
                problems.append(Problem(line: number,
                                        message: "the text before \"=\" is not a setting name"
                                            + " (letters, digits, \".\" and \"_\"; it is not shown)"))
                continue
            }
            var value = Values.trimmed(String(line[line.index(after: equals)...]))
            var file: String?
            if value.hasPrefix("@@") {
                value.removeFirst()
            } else if value.hasPrefix("@") {
                file = String(value.dropFirst())
                value = ""
            }
            let setting = Setting(key: key, value: value, file: file, line: number)
            if recipients.isEmpty {
                agent.append(setting)
            } else {
                recipients[recipients.count - 1].settings.append(setting)
            }
        }
    }

    /// The agent's settings without outbound-eventsd's own `admin.*` keys: what an agent takes.
    public var agentSettingsOnly: [Setting] { agent.filter { !AdminSettings.isAdminKey($0.key) } }

    static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x2E || byte == 0x5F
    }

    /// The line of the setting an error message is about: messages start with the key, bare or
    /// quoted ("url: ...", "\"colour\": unknown ...").
    public static func line(of message: String, in settings: [Setting], default fallback: Int) -> Int {
        var key = String(message.prefix { $0 != ":" })
        if key.hasPrefix("\"") && key.hasSuffix("\"") && key.count >= 2 { key = String(key.dropFirst().dropLast()) }
        return settings.last { $0.key == key }?.line ?? fallback
    }
}

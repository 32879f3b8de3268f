import CSystem
import Locking
import OutboundEventsAgent
import OutboundEventsCore

/// A recipient as the page and the API see it.
struct RecipientEntry {
    var kind: SettingsFile.Recipient.Kind
    var name: String
    /// Its settings, `@file` values read.
    var settings: [(key: String, value: String)]
    /// `FILE:LINE` of its section.
    var location: String
    /// In the state file: the page may change it. Otherwise the configuration file sets it.
    var managed: Bool

    func value(_ key: String) -> String? { settings.last { $0.key == key }?.value }
}

/// Why a change was refused: the key it concerns (nil: the change as a whole) and the reason,
/// as the validation wrote it.
struct Refusal {
    var key: String?
    var message: String

    /// The reason without the key it starts with ("url: port ..." → "port ...").
    var reason: String {
        guard let key else { return message }
        for prefix in ["\(key): ", "\(Values.quote(key)): "] where message.hasPrefix(prefix) {
            return String(message.dropFirst(prefix.count))
        }
        return message
    }
}

enum Outcome {
    case applied
    case refused([Refusal])
    case notFound
    /// Set by the configuration file (`FILE:LINE`): read-only on the page and the API.
    case readOnly(String)
}

/// The secrets of SPEC 8 never leave: a set secret reads `***`, and `***` sent back keeps it.
enum Secrets {
    static let mask = "***"
    static let keys: Set<String> = ["signing_secret", "smtp.password"]

    /// A value as the page and the API may show it.
    static func shown(_ key: String, _ value: String) -> String {
        if keys.contains(key) { return value.isEmpty ? "" : mask }
        if key == "url", let url = try? WebhookURL(key, value) { return url.redacted }
        return value
    }

    /// The value to store for what a client sent: the stored one when it sent the mask (or,
    /// for a URL, its redacted form back).
    static func resolved(_ key: String, _ value: String, stored: String?) throws(ConfigError) -> String {
        if keys.contains(key) && value == mask {
            guard let stored, !stored.isEmpty else {
                throw .invalid(key, "\(mask) stands for the stored secret, and none is stored")
            }
            return stored
        }
        if key == "url", let stored, let url = try? WebhookURL(key, stored), value == url.redacted { return stored }
        return value
    }
}

extension Daemon {
    static let smtpKeys = ["smtp.host", "smtp.port", "smtp.encryption", "smtp.username", "smtp.password", "smtp.from",
                           "smtp.ca_certificate"]

    /// The configuration the page shows (consistent with what runs).
    func currentConfiguration() -> Configuration {
        applying.withLock { _ in configuration }
    }

    func recipientEntries(_ configuration: Configuration) -> [RecipientEntry] {
        configuration.file.recipients.map { recipient in
            RecipientEntry(kind: recipient.kind, name: recipient.name,
                           settings: recipient.settings.map { ($0.key, $0.value) },
                           location: configuration.location(recipient.line),
                           managed: configuration.isManaged(recipient.line))
        }
    }

    /// Creates or replaces a recipient of the state file, checked and applied like a reload.
    func putRecipient(_ kind: SettingsFile.Recipient.Kind, _ name: String,
                      _ settings: [(key: String, value: String)]) -> Outcome {
        applying.withLock { _ in
            let configuration = self.configuration
            if let fixed = configuration.file.recipients
                .first(where: { $0.name == name && !configuration.isManaged($0.line) }) {
                return .readOnly(configuration.location(fixed.line))
            }
            var recipients = configuration.state.recipients.map {
                (kind: $0.kind, name: $0.name, settings: $0.settings.map { (key: $0.key, value: $0.value) })
            }
            let stored = recipients.first { $0.name == name && $0.kind == kind }
            var resolved: [(key: String, value: String)] = []
            var refusals: [Refusal] = []
            for (key, value) in settings {
                do throws(ConfigError) {
                    let storedValue = stored?.settings.last { $0.key == key }?.value
                    resolved.append((key, try Secrets.resolved(key, value, stored: storedValue)))
                } catch {
                    refusals.append(Refusal(key: key, message: error.message))
                }
            }
            guard refusals.isEmpty else { return .refused(refusals) }
            if let index = recipients.firstIndex(where: { $0.name == name && $0.kind == kind }) {
                recipients[index].settings = resolved
            } else {
                recipients.append((kind, name, resolved))
            }
            return applyState(StateFileText(agent: configuration.state.agent.map { ($0.key, $0.value) },
                                            recipients: recipients),
                              target: .recipient(kind, name))
        }
    }

    func deleteRecipient(_ kind: SettingsFile.Recipient.Kind, _ name: String) -> Outcome {
        applying.withLock { _ in
            let configuration = self.configuration
            guard let found = configuration.file.recipients.first(where: { $0.name == name && $0.kind == kind }) else {
                return .notFound
            }
            guard configuration.isManaged(found.line) else { return .readOnly(configuration.location(found.line)) }
            let recipients = configuration.state.recipients.filter { !($0.name == name && $0.kind == kind) }
                .map { (kind: $0.kind, name: $0.name, settings: $0.settings.map { (key: $0.key, value: $0.value) }) }
            return applyState(StateFileText(agent: configuration.state.agent.map { ($0.key, $0.value) },
                                            recipients: recipients),
                              target: .recipient(kind, name))
        }
    }

    /// Replaces the relay settings of the state file with `settings` (empty values: the
    /// default). Keys the configuration file sets are read-only.
    func putSMTP(_ settings: [(key: String, value: String)]) -> Outcome {
        applying.withLock { _ in
            let configuration = self.configuration
            var agent: [(key: String, value: String)] = []
            var refusals: [Refusal] = []
            for (key, value) in settings {
                guard Self.smtpKeys.contains(key) else {
                    refusals.append(Refusal(key: key,
                                            message: "\(Values.quote(key)): not a relay setting"
                                                + " (known: \(Self.smtpKeys.joined(separator: ", ")))"))
                    continue
                }
                if let fixed = configuration.file.agent
                    .first(where: { $0.key == key && !configuration.isManaged($0.line) }) {
                    if value != Secrets.shown(key, fixed.value) {
                        let message = "\(key): set in \(configuration.location(fixed.line)); change it there"
                        refusals.append(Refusal(key: key, message: message))
                    }
                    continue
                }
                guard !value.isEmpty else { continue }
                do throws(ConfigError) {
                    let storedValue = configuration.state.agent.last { $0.key == key }?.value
                    agent.append((key, try Secrets.resolved(key, value, stored: storedValue)))
                } catch {
                    refusals.append(Refusal(key: key, message: error.message))
                }
            }
            guard refusals.isEmpty else { return .refused(refusals) }
            let recipients = configuration.state.recipients.map {
                (kind: $0.kind, name: $0.name, settings: $0.settings.map { (key: $0.key, value: $0.value) })
            }
            return applyState(StateFileText(agent: agent, recipients: recipients), target: .smtp)
        }
    }

    enum Target {
        case recipient(SettingsFile.Recipient.Kind, String)
        case smtp
    }

    /// With `applying` held: checks the files with `state` as the new state file, the same
    /// checks as a reload and `outbound-events check`; when they pass, writes the state file
    /// and applies it like a reload (whole, or not at all).
    func applyState(_ state: StateFileText, target: Target) -> Outcome {
        let parsed = state.parsed()
        let (checked, problems) = Configuration.check(configPath, defaultSpool: Self.defaultSpool,
                                                      now: Int64(time(nil)), replacing: parsed)
        guard let checked else { return .refused(problems.map { Refusal(key: nil, message: $0.message) }) }
        var refusals = problems.map { classify($0, in: checked, target: target) }
        refusals += fixedChanges(checked.file).map { Refusal(key: nil, message: $0) }
        guard refusals.isEmpty else { return .refused(refusals) }
        do throws(ConfigError) {
            try state.write(to: checked.statePath)
        } catch {
            return .refused([Refusal(key: nil, message: "not saved: \(error.message)")])
        }
        guard reloadApplying() else {
            return .refused([Refusal(key: nil,
                                     message: "saved in \(checked.statePath) but not applied: the configuration changed"
                                         + " meanwhile; see journalctl -u outbound-events")])
        }
        return .applied
    }

    /// A problem of the checked files as a refusal of the key it concerns, when it concerns the
    /// recipient or relay being changed; otherwise as a problem of the files, with `FILE:LINE`.
    func classify(_ problem: SettingsFileSupport.Problem, in configuration: Configuration, target: Target) -> Refusal {
        var key = String(problem.message.prefix { $0 != ":" })
        if key.hasPrefix("\"") && key.hasSuffix("\"") && key.count >= 2 { key = String(key.dropFirst().dropLast()) }
        let local = problem.line - configuration.configLines
        if configuration.isManaged(problem.line) {
            switch target {
            case let .recipient(kind, name):
                if let recipient = configuration.state.recipients.first(where: { $0.name == name && $0.kind == kind }),
                   recipient.line == local || recipient.settings.contains(where: { $0.line == local }) {
                    let known = kind == .http ? HTTPRecipientSettings.keys : EmailRecipientSettings.keys
                    if known.contains(key) || key == "name" { return Refusal(key: key, message: problem.message) }
                    if let setting = recipient.settings.last(where: { $0.line == local }) {
                        return Refusal(key: setting.key, message: problem.message)
                    }
                    return Refusal(key: nil, message: problem.message)
                }
            case .smtp:
                if let setting = configuration.state.agent.first(where: { $0.line == local }) {
                    return Refusal(key: setting.key, message: problem.message)
                }
            }
        }
        return Refusal(key: nil, message: "\(configuration.location(problem.line)): \(problem.message)")
    }
}

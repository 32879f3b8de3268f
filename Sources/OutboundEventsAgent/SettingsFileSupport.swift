import OutboundEventsCore
import TLSMaterial

/// Settings files (the tool's `check` and `emit`): every problem reported with its line, and an
/// agent made from a file exactly as a firmware service would make it through the C ABI.
public enum SettingsFileSupport {
    public typealias Problem = SettingsFile.Problem

    /// Reads the file and resolves `@path` values (relative paths are taken from the file's
    /// directory). Problems of reading are returned with their lines.
    public static func load(_ path: String) throws(ConfigError) -> (SettingsFile, [Problem]) {
        var file = SettingsFile(parsing: try Files.readText(path, key: "settings file"))
        var problems: [Problem] = []
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func resolve(_ setting: inout SettingsFile.Setting) {
            guard let name = setting.file else { return }
            let full = name.hasPrefix("/") ? name : directory + "/" + name
            do {
                setting.value = try Files.readText(full, key: setting.key)
            } catch {
                problems.append(Problem(line: setting.line, message: error.message))
            }
        }
        for index in file.agent.indices { resolve(&file.agent[index]) }
        for r in file.recipients.indices {
            for s in file.recipients[r].settings.indices { resolve(&file.recipients[r].settings[s]) }
        }
        return (file, problems)
    }

    /// Every problem of the file, each with its line: the same checks the C ABI makes, all of
    /// them, not just the first.
    public static func check(_ file: SettingsFile, now: Int64) -> [Problem] {
        var problems = file.problems
        var agent = AgentSettings()
        var admin = AdminSettings()
        var seen = Set<String>()
        for setting in file.agent {
            guard seen.insert(setting.key).inserted else {
                problems.append(Problem(line: setting.line, message: "\(setting.key): given twice"))
                continue
            }
            do throws(ConfigError) {
                // The page's keys are outbound-eventsd's own: accepted in its file, refused by the
                // library (AgentSettings does not know them).
                if AdminSettings.isAdminKey(setting.key) {
                    try admin.set(setting.key, setting.value)
                } else {
                    try agent.set(setting.key, setting.value)
                }
            } catch {
                problems.append(Problem(line: setting.line, message: error.message))
            }
        }
        for error in admin.crossProblems() {
            problems.append(Problem(line: SettingsFile.line(of: error.message, in: file.agent, default: 1),
                                    message: error.message))
        }
        if !agent.smtp.caCertificate.isEmpty {
            do { _ = try CACertificate("smtp.ca_certificate", pem: agent.smtp.caCertificate, now: now) } catch {
                problems.append(Problem(line: SettingsFile.line(of: error.message, in: file.agent, default: 1),
                                        message: error.message))
            }
        }
        var profile = FirmwareProfile.bSeries
        if !agent.firmwareProfile.isEmpty {
            let line = SettingsFile.line(of: "firmware_profile:", in: file.agent, default: 1)
            do {
                let text = try Files.readText(agent.firmwareProfile, key: "firmware_profile")
                profile = try FirmwareProfile(parsing: text, source: agent.firmwareProfile)
            } catch {
                problems.append(Problem(line: line, message: error.message))
            }
        }
        var names = Set<String>()
        if file.recipients.count > EventQueue.maxSlots {
            problems.append(Problem(line: file.recipients[EventQueue.maxSlots].line,
                                    message: "more than \(EventQueue.maxSlots) recipients (the limit)"))
        }
        for recipient in file.recipients {
            do { try Values.recipientName(recipient.name) } catch {
                problems.append(Problem(line: recipient.line, message: error.message))
            }
            if !names.insert(recipient.name).inserted {
                problems.append(Problem(line: recipient.line,
                                        message: "name: \(Values.quote(recipient.name)) is used twice;"
                                            + " names are unique across HTTP and email recipients"))
            }
            problems += check(recipient, profile: profile, deployment: agent.deployment, now: now)
        }
        return problems.sorted { $0.line < $1.line }
    }

    /// A recipient's problems: the settings are tried as a whole, and each refused key is
    /// reported and left out until the rest passes.
    static func check(_ recipient: SettingsFile.Recipient, profile: FirmwareProfile, deployment: Deployment,
                      now: Int64) -> [Problem] {
        var problems: [Problem] = []
        var settings = recipient.settings
        while true {
            let pairs = settings.map { (key: $0.key, value: $0.value) }
            do throws(ConfigError) {
                switch recipient.kind {
                case .http:
                    let http = try HTTPRecipientSettings(pairs, profile: profile, deployment: deployment)
                    if !http.caCertificate.isEmpty {
                        _ = try CACertificate("ca_certificate", pem: http.caCertificate, now: now)
                    }
                case .email:
                    _ = try EmailRecipientSettings(pairs, profile: profile)
                }
                return problems
            } catch {
                let line = SettingsFile.line(of: error.message, in: settings, default: recipient.line)
                problems.append(Problem(line: line, message: error.message))
                guard let index = settings.lastIndex(where: { $0.line == line }) else { return problems }
                settings.remove(at: index)
            }
        }
    }
}

extension Agent {
    /// Makes an agent from a settings file and puts its recipients, as a firmware service would
    /// through the C ABI. Throws the first problem, with its line.
    public convenience init(file: SettingsFile, environment: AgentEnvironment) throws(ConfigError) {
        do {
            try self.init(settings: file.agentSettingsOnly.map { (key: $0.key, value: $0.value) },
                          environment: environment)
        } catch {
            let line = SettingsFile.line(of: error.message, in: file.agent, default: 1)
            throw ConfigError(error.code, "line \(line): \(error.message)")
        }
        for recipient in file.recipients {
            let pairs = recipient.settings.map { (key: $0.key, value: $0.value) }
            do throws(ConfigError) {
                switch recipient.kind {
                case .http: try putHTTPRecipient(recipient.name, pairs)
                case .email: try putEmailRecipient(recipient.name, pairs)
                }
            } catch {
                close()
                let line = SettingsFile.line(of: error.message, in: recipient.settings, default: recipient.line)
                throw ConfigError(error.code, "line \(line): \(error.message)")
            }
        }
    }
}

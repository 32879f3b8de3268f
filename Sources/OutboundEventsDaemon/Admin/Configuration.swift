import CSystem
import OutboundEventsAgent
import OutboundEventsCore

/// What the daemon runs on (SPEC 9 and 13): its configuration file, then the state file where
/// the page and the API keep their changes (recipients and `smtp.*` settings), read after it.
/// The two are checked as one file, the state file's lines numbered after the configuration
/// file's, so that every problem keeps its `FILE:LINE` and a name or key set in both files is
/// an error of the files.
struct Configuration: Sendable {
    /// Both files as one: what the agent is given.
    var file: SettingsFile
    var configPath: String
    var statePath: String
    /// The configuration file's last line: the state file's line N is line `configLines + N` here.
    var configLines: Int
    /// The state file alone, lines its own.
    var state: SettingsFile
    var admin: AdminSettings

    /// `FILE:LINE` of a line of `file`.
    func location(_ line: Int) -> String {
        line > configLines ? "\(statePath):\(line - configLines)" : "\(configPath):\(line)"
    }

    /// Whether a line of `file` comes from the state file (the page may change it).
    func isManaged(_ line: Int) -> Bool { line > configLines }

    /// Reads the configuration file and the state file (or `replacing` for the state file: a
    /// change the page has not written yet) and checks them as one. Returns the configuration
    /// (nil when the configuration file cannot be read) and every problem as `FILE:LINE: reason`;
    /// the configuration must not be used when there is one.
    static func load(_ path: String, defaultSpool: String, now: Int64,
                     replacing replacement: SettingsFile? = nil)
        -> (configuration: Configuration?, problems: [String]) {
        let (configuration, problems) = check(path, defaultSpool: defaultSpool, now: now, replacing: replacement)
        guard let configuration else { return (nil, problems.map { $0.message }) }
        return (configuration, problems.map { "\(configuration.location($0.line)): \($0.message)" })
    }

    /// `load`, with the problems as lines of `file` (a problem of reading has line 0 and says
    /// its file itself).
    static func check(_ path: String, defaultSpool: String, now: Int64,
                      replacing replacement: SettingsFile? = nil)
        -> (configuration: Configuration?, problems: [SettingsFileSupport.Problem]) {
        let loaded: (SettingsFile, [SettingsFileSupport.Problem])
        do { loaded = try SettingsFileSupport.load(path) } catch {
            return (nil, [.init(line: 0, message: "\(path): \(error.message)")])
        }
        var file = loaded.0
        var problems = loaded.1
        if !file.agent.contains(where: { $0.key == "queue.spool" }) {
            file.agent.append(SettingsFile.Setting(key: "queue.spool", value: defaultSpool, line: 0))
        }
        var admin = AdminSettings()
        for setting in file.agent where AdminSettings.isAdminKey(setting.key) {
            // A bad value is reported by the check below.
            try? admin.set(setting.key, setting.value)
        }
        let spool = file.agent.last { $0.key == "queue.spool" }!.value
        let statePath = admin.stateFilePath(spool: spool)
        let configLines = max(file.agent.map { $0.line }.max() ?? 0,
                              file.recipients.flatMap { [$0.line] + $0.settings.map { $0.line } }.max() ?? 0)

        var state = SettingsFile(parsing: "")
        if let replacement {
            state = replacement
        } else if access(statePath, F_OK) == 0 {
            do {
                let read = try SettingsFileSupport.load(statePath)
                state = read.0
                problems += read.1.map { SettingsFileSupport.Problem(line: $0.line + configLines, message: $0.message) }
            } catch {
                return (nil, [.init(line: 0, message: "\(statePath): \(error.message)")])
            }
        }
        problems += state.problems.map { SettingsFileSupport.Problem(line: $0.line + configLines, message: $0.message) }
        for setting in state.agent {
            let line = setting.line + configLines
            guard setting.key.hasPrefix("smtp.") else {
                problems.append(.init(line: line,
                                      message: "\(setting.key): only smtp.* settings and recipients"
                                          + " are kept in the state file; set it in \(path)"))
                continue
            }
            if let other = file.agent.last(where: { $0.key == setting.key }) {
                problems.append(.init(line: line,
                                      message: "\(setting.key): set in both \(path):\(other.line)"
                                          + " and the state file; remove one"))
                continue
            }
            var shifted = setting
            shifted.line = line
            file.agent.append(shifted)
        }
        for recipient in state.recipients {
            let line = recipient.line + configLines
            if let other = file.recipients.first(where: { $0.name == recipient.name }) {
                problems.append(.init(line: line,
                                      message: "name: \(Values.quote(recipient.name)) is set in both"
                                          + " \(path):\(other.line) and the state file; remove one"))
                continue
            }
            var shifted = recipient
            shifted.line = line
            for index in shifted.settings.indices { shifted.settings[index].line += configLines }
            file.recipients.append(shifted)
        }
        problems += SettingsFileSupport.check(file, now: now)
        let configuration = Configuration(file: file, configPath: path, statePath: statePath, configLines: configLines,
                                          state: state, admin: admin)
        return (configuration, problems.sorted { $0.line < $1.line })
    }
}

import ArgumentParser
import COutboundEvents
import Glibc
import OutboundEventsAgent
import OutboundEventsCore

struct Emit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an agent from a settings file (or attach to the daemon), emit events, deliver them,"
            + " and say how it went.",
        discussion: """
            With EVENT, emits that one event with the name=value variables given \
            (custom:name=value for custom fields). Without it, reads events from standard \
            input, one a line: EVENT name=value ... (double quotes keep blanks inside a \
            value). Then waits up to --timeout for every recipient to be delivered to and \
            prints the outcome per recipient. Exit status 0 when everything was delivered, \
            1 otherwise.
            With --attach SPOOL there is no settings file: the events go to the appliance's \
            daemon (outbound-eventsd) through its spool, as a firmware service's producer \
            would send them, and the daemon's recipients are shown.
            """
    )

    @Argument(help: "The settings file (see `outbound-events check --help`); with --attach, the event.")
    var file: String?
    @Argument(help: "The event, then its variables as name=value.") var event: [String] = []
    @Option(help: "How long to wait for delivery (e.g. 30s).") var timeout = "30s"
    @Option(help: "Emit as a producer of the daemon whose queue.spool this is (appliance mode).") var attach: String?
    @Option(help: "With --attach: the firmware profile (default: the built-in B Series profile).") var profile: String?
    @Flag(help: "Make the events durable on the disk (oe_agent_sync) before waiting for their delivery: needs queue.spool, or --attach.")
    var sync = false

    func run() throws {
        let wait = try parseDuration(timeout, option: "timeout")
        if let attach {
            try runAttached(attach, wait: wait)
            return
        }
        guard let file else { throw ValidationError("give a settings file, or --attach SPOOL") }
        let loaded: (SettingsFile, [SettingsFileSupport.Problem])
        do { loaded = try SettingsFileSupport.load(file) } catch {
            complain("\(file): \(error.message)")
            throw ExitCode(1)
        }
        for problem in loaded.1 { complain("\(file):\(problem.line): \(problem.message)") }
        guard loaded.1.isEmpty else { throw ExitCode(1) }
        let agent: Agent
        do { agent = try Agent(file: loaded.0, environment: AgentEnvironment(version: OE_VERSION_STRING)) } catch {
            complain("\(file):\(error.message)")
            throw ExitCode(1)
        }
        let refused = try emitAll(event) { agent.emit($0, variables: $1, customFields: $2) }
        if sync { try report(sync: agent.sync(timeout: wait)) }
        let flushed = agent.flush(timeout: wait)
        let report = StatusDocument.parse(agent.status())
        agent.close()
        if let report { printRecipients(report.recipients) }
        if flushed != .ok {
            let identifier = loaded.0.agent.last { $0.key == "log.identifier" }?.value ?? "outbound-events"
            complain("not everything was delivered within \(timeout); the journal says why:"
                         + " journalctl -x -t \(identifier)")
        }
        if flushed != .ok || refused > 0 { throw ExitCode(1) }
    }

    /// As a producer of the daemon: its queue, its recipients, its delivery.
    func runAttached(_ spool: String, wait: Millis) throws {
        var settings = [(key: "queue.attach", value: spool), (key: "log.destination", value: "stderr")]
        if let profile { settings.append((key: "firmware_profile", value: profile)) }
        let producer: Producer
        do {
            producer = try Producer(settings: settings, environment: AgentEnvironment(version: OE_VERSION_STRING))
        } catch {
            complain(error.message)
            throw ExitCode(1)
        }
        if !producer.daemonRunning {
            complain("outbound-eventsd is not running on \(spool): the events wait in its queue until it starts")
        }
        let refused = try emitAll(([file].compactMap { $0 }) + event) {
            producer.emit($0, variables: $1, customFields: $2)
        }
        if sync { try report(sync: producer.sync(timeout: wait)) }
        let flushed = producer.flush(timeout: wait)
        if let report = StatusDocument.parse(producer.status()) { printRecipients(report.recipients) }
        if flushed != .ok {
            complain("not everything was delivered within \(timeout); the daemon's journal says why:"
                         + " journalctl -x -u outbound-events")
        }
        if flushed != .ok || refused > 0 { throw ExitCode(1) }
    }

    /// What `--sync` found: the events on the disk, or why not.
    func report(sync result: ResultCode) throws {
        switch result {
        case .ok: print("synced: the events are on the disk")
        case .state:
            complain("--sync: this agent has no spool (set queue.spool in the settings file): nothing to sync")
            throw ExitCode(1)
        default:
            complain("--sync: the events were not on the disk within \(timeout) (\(result.summary));"
                         + " the journal says why")
            throw ExitCode(1)
        }
    }

    /// Emits `tokens` (EVENT name=value ...), or each line of standard input when empty;
    /// returns how many were refused.
    func emitAll(_ tokens: [String],
                 _ emit: (String, [(String, String)], [(String, String)]) -> (ResultCode, String?)) throws -> Int {
        var lines: [[String]] = []
        if tokens.isEmpty {
            while let line = readLine() {
                let words = words(line)
                if !words.isEmpty && !words[0].hasPrefix("#") { lines.append(words) }
            }
        } else {
            lines = [tokens]
        }
        var refused = 0
        for tokens in lines {
            let fields = try parseFields(Array(tokens.dropFirst()))
            let (code, reason) = emit(tokens[0], fields.variables, fields.custom)
            if code == .ok {
                print("emitted \(tokens[0])")
            } else {
                refused += 1
                complain("\(tokens[0]): \(code.summary)\(reason.map { ": \($0)" } ?? "")")
            }
        }
        return refused
    }
}

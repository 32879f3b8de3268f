import ArgumentParser
import COutboundEvents
import Glibc
import OutboundEventsAgent
import OutboundEventsCore

struct Emit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an agent from a settings file, emit events, deliver them, and say how it went.",
        discussion: """
            With EVENT, emits that one event with the name=value variables given \
            (custom:name=value for custom fields). Without it, reads events from standard \
            input, one a line: EVENT name=value ... (double quotes keep blanks inside a \
            value). Then waits up to --timeout for every recipient to be delivered to and \
            prints the outcome per recipient. Exit status 0 when everything was delivered, \
            1 otherwise.
            """
    )

    @Argument(help: "The settings file (see `outbound-events check --help`).") var file: String
    @Argument(help: "The event, then its variables as name=value.") var event: [String] = []
    @Option(help: "How long to wait for delivery (e.g. 30s).") var timeout = "30s"

    func run() throws {
        let wait = try parseDuration(timeout, option: "timeout")
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
        var lines: [[String]] = []
        if event.isEmpty {
            while let line = readLine() {
                let tokens = words(line)
                if !tokens.isEmpty && !tokens[0].hasPrefix("#") { lines.append(tokens) }
            }
        } else {
            lines = [event]
        }
        var refused = 0
        for tokens in lines {
            let fields = try parseFields(Array(tokens.dropFirst()))
            let (code, reason) = agent.emit(tokens[0], variables: fields.variables, customFields: fields.custom)
            if code == .ok {
                print("emitted \(tokens[0])")
            } else {
                refused += 1
                complain("\(tokens[0]): \(code.summary)\(reason.map { ": \($0)" } ?? "")")
            }
        }
        let flushed = agent.flush(timeout: wait)
        let report = StatusDocument.parse(agent.status())
        agent.close()
        if let report { printRecipients(report.recipients) }
        if flushed != .ok {
            let identifier = loaded.0.agent.last { $0.key == "log.identifier" }?.value ?? "outbound-events"
            complain("not everything was delivered within \(timeout); the journal says why: journalctl -x -t \(identifier)")
        }
        if flushed != .ok || refused > 0 { throw ExitCode(1) }
    }
}

import ArgumentParser
import OutboundEventsAgent
import OutboundEventsCore

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a settings file and say exactly what is wrong, line by line.",
        discussion: """
            The file holds agent settings, then [http NAME] and [email NAME] sections with \
            recipient settings, one "key = value" per line, "#" for comments; a value \
            "@PATH" is read from that file (PEM certificates, templates). The keys are those \
            of the C ABI (see outbound-events.conf(5)). Every problem is reported as FILE:LINE: \
            reason. Exit status 0 when the file is valid, 1 otherwise.
            """
    )

    @Argument(help: "The settings file.") var file: String

    func run() throws {
        let loaded: (SettingsFile, [SettingsFileSupport.Problem])
        do { loaded = try SettingsFileSupport.load(file) } catch {
            complain("\(file): \(error.message)")
            throw ExitCode(1)
        }
        let problems = loaded.1 + SettingsFileSupport.check(loaded.0, now: SystemClock().unixSeconds())
        for problem in problems.sorted(by: { $0.line < $1.line }) {
            complain("\(file):\(problem.line): \(problem.message)")
        }
        guard problems.isEmpty else { throw ExitCode(1) }
        let http = loaded.0.recipients.filter { $0.kind == .http }.count
        print("\(file): OK (\(loaded.0.agent.count) agent settings, \(http) HTTP"
                  + " and \(loaded.0.recipients.count - http) email recipients)")
    }
}

import ArgumentParser
import COutboundEvents
import Transfers
import OutboundEventsAgent
import OutboundEventsCore
import Glibc
import TLSMaterial

struct SendTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Send one test event to a URL, or a test email to an address, now and show exactly what happened.",
        discussion: """
            The event goes out as the agent sends events: the same body, headers, TLS \
            verification (peer and host name, TLS 1.2 or newer, the CA file as the only \
            trust when given), proxy and timeouts. The report shows the address the name resolved \
            to, the TLS version and verification result with the certificate the server \
            presented, the answer, the time each step took, and whether the appliance would \
            count the event as delivered (HTTP 200 only). Exit status 0 when it would, 1 otherwise.

            With mailto:ADDRESS, a test email goes to ADDRESS through the relay of the \
            --settings file (smtp.*), as the agent sends mail, and the report shows each step: \
            the connection, TLS (version and verification), the login (credentials hidden), \
            every reply of the relay, the timings, and whether the relay took the email.
            """
    )

    @Argument(help: "The recipient URL (http:// or https://), or mailto:ADDRESS for a test email.") var url: String
    @Argument(help: "A settings file, as --settings.") var file: String?
    @Option(name: .customLong("ca-file"), help: "PEM file of the CA to trust instead of the system store.")
    var caFile: String?
    @Option(help: "The event to send.") var event = "support_conference_begin"
    @Option(name: .customLong("signing-secret"),
            help: "Sign as with signing_secret (whsec_<base64> or text; up to three, separated by spaces).")
    var signingSecret: String?
    @Option(name: .customLong("body-format"), help: "form (default) or json, as with body_format.")
    var bodyFormat = "form"
    @Option(name: .customLong("appliance-id"), help: "The appliance_id to send.") var applianceID = "send-test"
    @Option(name: .customLong("connect-timeout"), help: "Connect timeout (e.g. 10s).") var connectTimeout = "10s"
    @Option(help: "Timeout of the whole request (e.g. 30s).") var timeout = "30s"
    @Option(name: .customLong("settings"), help: "A settings file whose agent settings apply: http.proxy and http.no_proxy, and for mailto: the smtp.* relay.")
    var settingsFile: String?
    @Option(help: "Send through this HTTP proxy (http://[user:password@]host:port), as http.proxy does.")
    var proxy: String?

    /// The agent settings of --settings, if given, with --proxy on top.
    func agentSettings() throws -> AgentSettings {
        var settings = AgentSettings()
        if let settingsFile = settingsFile ?? file {
            do {
                let (file, problems) = try SettingsFileSupport.load(settingsFile)
                let all = problems + SettingsFileSupport.check(file, now: SystemClock().unixSeconds())
                for problem in all { complain("\(settingsFile):\(problem.line): \(problem.message)") }
                guard all.isEmpty else { throw ExitCode(1) }
                try settings.apply(file.agentSettingsOnly.map { (key: $0.key, value: $0.value) })
            } catch let error as ConfigError {
                complain("\(settingsFile): \(error.message)")
                throw ExitCode(1)
            }
        }
        if let proxy {
            do throws(ConfigError) { try settings.set("http.proxy", proxy) } catch {
                complain("--" + error.message.dropFirst("http.".count))
                throw ExitCode(1)
            }
        }
        return settings
    }

    func run() throws {
        let now = SystemClock().unixSeconds()
        let settings = try agentSettings()
        if url.lowercased().hasPrefix("mailto:") {
            try sendMail(to: String(url.dropFirst(7)), settings: settings, now: now)
            return
        }
        let webhook: WebhookURL
        do { webhook = try WebhookURL("url", url) } catch { complain(error.message); throw ExitCode(1) }
        var pem = ""
        var ca: CACertificate?
        if let caFile {
            do {
                pem = try readFile(caFile)
                ca = try CACertificate("ca-file", pem: pem, now: now)
            } catch let error as ConfigError {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        guard FirmwareProfile.bSeries.index(of: event) != nil else {
            complain("event: \(Values.quote(event)) is not an event of the B Series profile"
                         + " (\(FirmwareProfile.bSeries.events.map(\.name).joined(separator: ", ")))")
            throw ExitCode(1)
        }
        guard let bodyFormat = BodyFormat(rawValue: self.bodyFormat) else {
            complain("body-format: \(Values.quote(self.bodyFormat)) is not a body format (write form or json)")
            throw ExitCode(1)
        }
        var keys: [Secret]?
        if let signingSecret {
            do throws(ConfigError) { keys = try HTTPRecipientSettings.decodeSecrets(signingSecret) } catch {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        let (lines, delivered) = SendTestReport.http(
            webhook: webhook, caCertificate: pem, ca: ca, trust: caFile.map { "the CA in \($0)" }, event: event,
            applianceID: applianceID, signingKeys: keys, bodyFormat: bodyFormat,
            connectTimeout: try parseDuration(connectTimeout, option: "connect-timeout"),
            requestTimeout: try parseDuration(timeout, option: "timeout"),
            proxy: settings.proxy, noProxy: settings.noProxy, version: OE_VERSION_STRING, now: now)
        for line in lines { print(line) }
        guard delivered else { throw ExitCode(1) }
    }

    /// `send-test mailto:ADDRESS`: one email through the settings file's relay.
    func sendMail(to address: String, settings: AgentSettings, now: Int64) throws {
        do throws(ConfigError) { try Values.emailAddress("mailto", address) } catch {
            complain(error.message)
            throw ExitCode(1)
        }
        guard settings.smtp.isConfigured else {
            complain("mailto: no relay: give --settings FILE with smtp.host"
                         + " (and the other smtp.* settings the agent uses)")
            throw ExitCode(1)
        }
        var smtp = settings.smtp
        if let caFile {
            do { smtp.caCertificate = try readFile(caFile) } catch let error as ConfigError {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        var ca: CACertificate?
        if !smtp.caCertificate.isEmpty {
            do throws(ConfigError) {
                ca = try CACertificate("smtp.ca_certificate", pem: smtp.caCertificate, now: now)
            } catch {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        let applianceID = settings.applianceID.isEmpty ? Agent.hostName() : settings.applianceID
        let (lines, delivered) = SendTestReport.mail(
            to: address, smtp: smtp, ca: ca, applianceID: applianceID,
            connectTimeout: try parseDuration(connectTimeout, option: "connect-timeout"),
            requestTimeout: try parseDuration(timeout, option: "timeout"), now: now)
        for line in lines { print(line) }
        guard delivered else { throw ExitCode(1) }
    }
}

func readFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw ConfigError(.io, "\(path): \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

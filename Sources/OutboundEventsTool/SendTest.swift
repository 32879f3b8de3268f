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
    @Option(name: .customLong("ca-file"), help: "PEM file of the CA to trust instead of the system store.") var caFile: String?
    @Option(help: "The event to send.") var event = "support_conference_begin"
    @Option(name: .customLong("signing-secret"), help: "Sign as with signing_secret (whsec_<base64> or text; up to three, separated by spaces).") var signingSecret: String?
    @Option(name: .customLong("body-format"), help: "form (default) or json, as with body_format.") var bodyFormat = "form"
    @Option(name: .customLong("appliance-id"), help: "The appliance_id to send.") var applianceID = "send-test"
    @Option(name: .customLong("connect-timeout"), help: "Connect timeout (e.g. 10s).") var connectTimeout = "10s"
    @Option(help: "Timeout of the whole request (e.g. 30s).") var timeout = "30s"
    @Option(name: .customLong("settings"), help: "A settings file whose agent settings apply: http.proxy and http.no_proxy, and for mailto: the smtp.* relay.")
    var settingsFile: String?
    @Option(help: "Send through this HTTP proxy (http://[user:password@]host:port), as http.proxy does.") var proxy: String?

    /// The agent settings of --settings, if given, with --proxy on top.
    func agentSettings() throws -> AgentSettings {
        var settings = AgentSettings()
        if let settingsFile = settingsFile ?? file {
            do {
                let (file, problems) = try SettingsFileSupport.load(settingsFile)
                let all = problems + SettingsFileSupport.check(file, now: SystemClock().unixSeconds())
                for problem in all { complain("\(settingsFile):\(problem.line): \(problem.message)") }
                guard all.isEmpty else { throw ExitCode(1) }
                try settings.apply(file.agent.map { (key: $0.key, value: $0.value) })
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
        if let caFile {
            do {
                pem = try readFile(caFile)
                let ca = try CACertificate("ca-file", pem: pem, now: now)
                print("CA:           \(ca.subject), valid until \(ca.notAfter)")
            } catch let error as ConfigError {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        guard let index = FirmwareProfile.bSeries.index(of: event) else {
            complain("event: \(Values.quote(event)) is not an event of the B Series profile (\(FirmwareProfile.bSeries.events.map(\.name).joined(separator: ", ")))")
            throw ExitCode(1)
        }
        let wire = WireFormat(version: FirmwareProfile.bSeries.version, applianceID: applianceID, instance: UInt64(now))
        let variables = [("lsid", "send-test-\(now)"), ("external_key", "send-test")]
        guard let bodyFormat = BodyFormat(rawValue: self.bodyFormat) else {
            complain("body-format: \(Values.quote(self.bodyFormat)) is not a body format (write form or json)")
            throw ExitCode(1)
        }
        let (body, id) = TestEvent.body(FirmwareProfile.bSeries.events[index].name, variables, wire: wire, timestamp: now, format: bodyFormat)
        var headers = ["Content-Type: \(bodyFormat.contentType)", "webhook-id: \(id)", "webhook-timestamp: \(now)"]
        if let signingSecret {
            let keys: [Secret]
            do throws(ConfigError) { keys = try HTTPRecipientSettings.decodeSecrets(signingSecret) } catch { complain(error.message); throw ExitCode(1) }
            let signatures = keys.map { "v1," + HMACSHA256.base64Signature(key: $0.unredactedBytes, id: id, timestamp: now, body: body) }
            headers.append("webhook-signature: \(signatures.joined(separator: " "))")
        }
        let target = HTTPTarget(url: webhook.unredactedText, caCertificate: pem,
                                connectTimeout: try parseDuration(connectTimeout, option: "connect-timeout"),
                                requestTimeout: try parseDuration(timeout, option: "timeout"),
                                userAgent: "outbound-events/\(OE_VERSION_STRING)",
                                proxy: settings.proxy, noProxy: settings.noProxy)
        let report = Probe.send(target, body: body, headers: headers)
        print("URL:          \(webhook.redacted)")
        if let proxy = settings.proxy {
            print("Proxy:        \(proxy.redacted)\(webhook.scheme == .https ? " (a CONNECT tunnel; TLS verified end to end)" : "")\(settings.noProxy.isEmpty ? "" : ", not for \(settings.noProxy.joined(separator: ", "))")")
        }
        print("Event:        \(event) (webhook-id \(id))")
        print("Resolved to:  \(report.address ?? "(no connection)")")
        if webhook.scheme == .https {
            let trust = caFile.map { "the CA in \($0)" } ?? "the system trust store"
            if let verification = report.verification {
                let version = report.tlsVersion.map { "\($0), " } ?? ""
                print(verification == "OK" ? "TLS:          \(version)certificate verified against \(trust)"
                                           : "TLS:          verification FAILED against \(trust): \(verification)")
            } else {
                print("TLS:          no handshake")
            }
            for (position, certificate) in report.certificates.enumerated() {
                let label = position == 0 ? (report.verification == "OK" ? "Certificate:" : "Presented:   ") : "             "
                let fields = Dictionary(certificate.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
                print("\(label) \(fields["Subject"] ?? "?"), issued by \(fields["Issuer"] ?? "?"), valid \(fields["Start date"] ?? "?") to \(fields["Expire date"] ?? "?")")
            }
        }
        print("Answer:       \(report.result.succeeded ? "HTTP 200" : report.result.error)")
        print("Time:         \(format(report.lookupMillis)) lookup, \(format(report.connectMillis)) connect, " +
              (webhook.scheme == .https ? "\(format(report.tlsMillis)) TLS, " : "") + "\(format(report.totalMillis)) in all")
        if report.delivered {
            print("Delivered:    yes — the appliance counts this as delivered")
        } else {
            print("Delivered:    no — the appliance would keep the event and retry it (only HTTP 200 counts)")
            throw ExitCode(1)
        }
    }

    /// `send-test mailto:ADDRESS`: one email through the settings file's relay.
    func sendMail(to address: String, settings: AgentSettings, now: Int64) throws {
        do throws(ConfigError) { try Values.emailAddress("mailto", address) } catch {
            complain(error.message)
            throw ExitCode(1)
        }
        guard settings.smtp.isConfigured else {
            complain("mailto: no relay: give --settings FILE with smtp.host (and the other smtp.* settings the agent uses)")
            throw ExitCode(1)
        }
        var smtp = settings.smtp
        if let caFile {
            do { smtp.caCertificate = try readFile(caFile) } catch let error as ConfigError {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        if !smtp.caCertificate.isEmpty {
            do throws(ConfigError) {
                let ca = try CACertificate("smtp.ca_certificate", pem: smtp.caCertificate, now: now)
                print("CA:           \(ca.subject), valid until \(ca.notAfter)")
            } catch {
                complain(error.message)
                throw ExitCode(1)
            }
        }
        let from = Agent.sender(smtp)
        let applianceID = settings.applianceID.isEmpty ? Agent.hostName() : settings.applianceID
        let message = MailMessage(from: from, to: [address], subject: "Outbound events: test email from \(applianceID)",
                                  body: "This is a test email from the outbound events agent of appliance \(applianceID), sent with outbound-events send-test.\nIf it reached you, the appliance's SMTP relay settings work.\n",
                                  date: now, messageID: "send-test-\(now)@\(Agent.domain(of: from))")
        let target = SMTPTarget(relay: smtp, connectTimeout: try parseDuration(connectTimeout, option: "connect-timeout"),
                                requestTimeout: try parseDuration(timeout, option: "timeout"))
        let encryption = switch smtp.encryption {
        case .none: "no encryption"
        case .starttls: "STARTTLS required"
        case .tls: "TLS from the start"
        }
        print("Relay:        \(smtp.encryption == .tls ? "smtps" : "smtp")://\(smtp.host):\(smtp.effectivePort) (\(encryption))")
        print("From:         \(from)")
        print("To:           \(address)")
        print("Login:        \(smtp.username.isEmpty ? "none (smtp.username is not set)" : "as \(smtp.username) (the password is not shown)")")
        let report = Probe.sendMail(target, envelope: MailEnvelope(from: from, recipients: [address], message: message.rendered()))
        print("Conversation:")
        for line in report.transcript { print("  \(line)") }
        if smtp.encryption != .none {
            let trust = smtp.caCertificate.isEmpty ? "the system trust store" : "the uploaded CA"
            let negotiated = report.transcript.lazy.compactMap { line -> String? in
                guard let range = line.firstRange(of: "SSL connection using ") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != " " })
            }.first ?? report.tlsVersion
            if report.result.failure == .tls {
                print("TLS:          verification FAILED against \(trust): \(report.result.error)")
            } else if let negotiated {
                print("TLS:          \(negotiated), certificate verified against \(trust)")
            } else {
                print("TLS:          no handshake")
            }
        }
        print("Answer:       \(report.delivered ? "the relay took the email (\(report.result.status))" : report.result.error)")
        for refusal in report.result.refusedAddresses { print("Refused:      \(refusal.address): \(refusal.reply)") }
        print("Time:         \(format(report.connectMillis)) connect, " +
              (smtp.encryption != .none ? "\(format(report.tlsMillis)) TLS, " : "") + "\(format(report.totalMillis)) in all")
        if report.delivered && report.result.refusedAddresses.isEmpty {
            print("Delivered:    yes — the relay accepted the email for \(address)")
        } else {
            print("Delivered:    no — the agent would keep its email and retry it every smtp.retry_interval")
            throw ExitCode(1)
        }
    }

    func format(_ millis: Double) -> String {
        let tenths = Int((millis * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
}

/// The body and id of a test event, made by the agent's own wire format.
enum TestEvent {
    static func body(_ event: String, _ variables: [(String, String)], wire: WireFormat, timestamp: Int64,
                     format: BodyFormat) -> ([UInt8], String) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { memory.deallocate() }
        let queue = EventQueue(memory: memory, policy: .reject)
        queue.activate(0, name: "send-test")
        let name = Array(event.utf8)
        StringFields(variables).withFields { fields in
            let size = EventRecord.size(nameLength: name.count, variables: fields, customFields: .none) ?? 0
            _ = name.withUnsafeBytes { queue.append(size: size, mask: 1, timestamp: timestamp, name: $0, variables: fields, customFields: .none) }
        }
        var body: [UInt8] = []
        guard let view = queue.beginDelivery(0) else { return (body, "") }
        switch format {
        case .form: wire.body(of: view, customFields: false, into: &body)
        case .json: wire.jsonBody(of: view, customFields: false, into: &body)
        }
        return (body, wire.eventID(seq: view.seq))
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

import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// SPEC: secrets (the SMTP password, signing secrets, passwords in URLs) never appear in logs,
/// status, error messages or the tool's output.
@Suite("Secrets stay secret")
struct SecretsTests {
    let smtpPassword = "smtp-PW-9f8e7d"
    let signingSecret = "signing-SECRET-1a2b3c"
    let urlPassword = "url-PW-5d6e7f"

    @Test("the SMTP password, signing secrets and URL passwords appear in no journal entry, status, error or tool output")
    func nowhere() throws {
        let identifier = "oe-secret-\(UUID().uuidString.prefix(8))"
        let receiver = try Receiver(control: "503")
        let relay = try SMTPRelay()
        relay.setControl("reject")
        let statusPath = temporaryDirectory("status").path + "/agent.json"
        let url = receiver.url.replacingOccurrences(of: "http://", with: "http://user:\(urlPassword)@")
        var texts: [String] = []
        do {
            let agent = try Agent(settings: [(key: "log.identifier", value: identifier), (key: "shutdown_timeout", value: "0"),
                                             (key: "status.path", value: statusPath)]
                                  + relay.settings(extra: [("smtp.username", "agent"), ("smtp.password", smtpPassword)]).map { (key: $0.0, value: $0.1) },
                                  environment: AgentEnvironment(version: "1.0.0"))
            defer { agent.close() }
            try agent.putHTTPRecipient("hook", [(key: "url", value: url), (key: "signing_secret", value: signingSecret),
                                                (key: "retry_interval", value: "100ms"), (key: "retry_duration", value: "300ms"),
                                                (key: "email_contacts", value: "oncall@example.com"), (key: "email_alert_after", value: "0")])
            try agent.putEmailRecipient("mail", [(key: "addresses", value: "ops@example.com")])
            for bad in [("smtp.password", "\(smtpPassword)\nmore")] {
                do { try agent.configure([(key: bad.0, value: bad.1)]) } catch { texts.append(error.message) }
            }
            for bad in ["whsec_\(signingSecret)!", "whsec_"] {
                do { try agent.putHTTPRecipient("other", [(key: "url", value: url), (key: "signing_secret", value: bad)]) } catch {
                    texts.append(error.message)
                }
            }
            for _ in 0..<3 { _ = agent.emit("support_conference_end", variables: [("lsid", "L")]) }
            #expect(waitUntil(10) { agent.status().contains("Relaying denied") && agent.status().contains("\"dropped_expired\":") })
            Thread.sleep(forTimeInterval: 2.5)
            texts.append(agent.status())
        }
        texts += journalEntries(identifier: identifier).map { $0.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") }
        texts.append((try? String(contentsOfFile: statusPath, encoding: .utf8)) ?? "")
        let settings = writeSettings("""
            log.destination = stderr
            shutdown_timeout = 0
            smtp.host = 127.0.0.1
            smtp.password = \(smtpPassword)
            [http hook]
            url = \(url)
            signing_secret = whsec_\(signingSecret)!
            """)
        let check = try runTool(["check", settings])
        texts += [check.out, check.err]
        let send = try runTool(["send-test", url, "--signing-secret", signingSecret])
        texts += [send.out, send.err]
        #expect(texts.count > 8)
        #expect(!journalEntries(identifier: identifier).isEmpty)
        for text in texts {
            for secret in [smtpPassword, signingSecret, urlPassword] {
                #expect(!text.contains(secret), "\(secret) leaked in: \(text.prefix(300))")
            }
        }
    }
}

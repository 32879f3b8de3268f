import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// SPEC 8: secrets (the SMTP password, signing secrets, URL credentials, and tokens in a URL's
/// path or query) never appear in errors, the journal, stderr logs, the status JSON or file,
/// alert emails or the tool's output — also when the value itself is refused.
@Suite("Secrets stay secret")
struct SecretsTests {
    let smtpPassword = "smtp-PW-9f8e7d"
    let signingSecret = "signing-SECRET-1a2b3c"
    let urlPassword = "url-PW-5d6e7f"
    let pathToken = "path-TOKEN-3c4d5e"
    let queryToken = "query-TOKEN-7a8b9c"
    var secrets: [String] { [smtpPassword, signingSecret, urlPassword, pathToken, queryToken] }

    /// A receiver's URL carrying every kind of URL secret: a password, a token in the path
    /// after its first segment, one in the query.
    func secretURL(_ receiver: Receiver) -> String {
        receiver.url.replacingOccurrences(of: "http://", with: "http://user:\(urlPassword)@")
            + "/\(pathToken)?token=\(queryToken)"
    }

    /// Refused values that carry a secret: each must be refused without being echoed.
    var refusedURLs: [String] {
        ["https://admin:\(urlPassword)@hooks.example.com/a b", "admin:\(urlPassword)@host/x",
         "https://u:\(urlPassword)/ss@h/", "https://admin:\(urlPassword)@-bad-host-/x",
         "ftp://admin:\(urlPassword)@h/\(pathToken)", "https://h/\(pathToken)#x",
         "https://h/x?token=\(queryToken)\u{1}"]
    }

    func check(_ texts: [String], _ where: String) {
        #expect(!texts.isEmpty, "nothing to search in \(`where`)")
        for text in texts {
            for secret in secrets {
                #expect(!text.contains(secret), "\(secret) leaked in \(`where`): \(text.prefix(400))")
            }
        }
    }

    @Test("no secret in err, the journal, the status JSON and file, or alert emails — planted in every setting, refused ones included")
    func inProcess() throws {
        let identifier = "oe-secret-\(UUID().uuidString.prefix(8))"
        let receiver = try Receiver(control: "503")
        let relay = try SMTPRelay()
        relay.setControl("reject")
        let statusPath = temporaryDirectory("status").path + "/agent.json"
        var errors: [String] = []
        var statuses: [String] = []
        do {
            let agent = try Agent(settings: [(key: "log.identifier", value: identifier),
                                             (key: "shutdown_timeout", value: "0"),
                                             (key: "status.path", value: statusPath)]
                                  + relay.settings(extra: [("smtp.username", "agent"), ("smtp.password", smtpPassword)])
                                      .map { (key: $0.0, value: $0.1) },
                                  environment: AgentEnvironment(version: "1.0.0"))
            defer { agent.close() }
            try agent.putHTTPRecipient("hook", [(key: "url", value: secretURL(receiver)),
                                                (key: "signing_secret", value: signingSecret),
                                                (key: "retry_interval", value: "100ms"),
                                                (key: "retry_duration", value: "300ms"),
                                                (key: "email_contacts", value: "oncall@example.com"),
                                                (key: "email_alert_after", value: "0")])
            try agent.putEmailRecipient("mail", [(key: "addresses", value: "ops@example.com")])
            for bad in [("smtp.password", "\(smtpPassword)\nmore"),
                        ("smtp.password", String(repeating: smtpPassword, count: 80))] {
                do { try agent.configure([(key: bad.0, value: bad.1)]) } catch { errors.append(error.message) }
            }
            for bad in ["whsec_\(signingSecret)!", "whsec_"] {
                do {
                    try agent.putHTTPRecipient("other", [(key: "url", value: receiver.url),
                                                         (key: "signing_secret", value: bad)])
                } catch {
                    errors.append(error.message)
                }
            }
            for url in refusedURLs {
                do {
                    try agent.putHTTPRecipient("other", [(key: "url", value: url)])
                    Issue.record("accepted \(url)")
                } catch {
                    errors.append(error.message)
                }
            }
            do { try agent.configure([(key: "deployment", value: "cloud")]) } catch { errors.append(error.message) }
            for _ in 0..<3 { _ = agent.emit("support_conference_end", variables: [("lsid", "L")]) }
            #expect(waitUntil(10) {
                agent.status().contains("Relaying denied") && agent.status().contains("\"dropped_expired\":")
            })
            statuses.append(agent.status())
            // Now the relay takes mail: the failure alert (with the URL in it) arrives.
            relay.setControl("accept")
            #expect(waitUntil(10) { relay.messages.contains { $0.subject.contains("\"hook\"") } })
            Thread.sleep(forTimeInterval: 2.5)
            statuses.append(agent.status())
            let shown = try recipientStatus(agent, "hook")["url"] as? String
            #expect(shown == "http://***@127.0.0.1:\(receiver.port)/hook/…?token=***")
        }
        #expect(errors.count == 2 + 2 + refusedURLs.count + 1)
        check(errors, "err")
        let journal = journalEntries(identifier: identifier)
        #expect(journal.contains { $0["OE_URL"] != nil }, "the URL is in the journal, redacted")
        check(journal.map { $0.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") }, "the journal")
        statuses.append((try? String(contentsOfFile: statusPath, encoding: .utf8)) ?? "")
        check(statuses, "the status")
        check(relay.messages.map(\.raw), "the alert emails")
        #expect(relay.messages.contains { $0.body.contains("http://***@127.0.0.1:\(receiver.port)/hook/…") })
    }

    @Test("an error page that echoes the request's path and query never brings the URL's tokens back")
    func echoedByTheReceiver() throws {
        let receiver = try Receiver(control: "echo")
        let live = try LiveAgent()
        try live.put("chat", [("url", secretURL(receiver)), ("retry_interval", "1h")])
        live.emit("support_conference_begin", [("lsid", "1")])
        #expect(waitUntil { (live.recipient("chat")["status"] as? String)?.hasPrefix("HTTP 404") == true })
        let status = live.recipient("chat")["status"] as? String ?? ""
        #expect(status.contains("no route for /hook/***?token=***"), "\(status)")
        check([status, live.agent.status()] + live.log.entries.map { entry in
            entry.message + entry.fields.map { "\($0.name)=\($0.value)" }.joined()
        }, "the status and the log")
    }

    @Test("no secret in the tool's output: check, send-test, and emit with its stderr log")
    func tool() throws {
        let receiver = try Receiver(control: "503")
        let url = secretURL(receiver)
        let refused = writeSettings("""
            log.destination = stderr
            shutdown_timeout = 0
            smtp.host = 127.0.0.1
            smtp.password = \(smtpPassword)
            smtp.password \(smtpPassword)
            [http hook]
            url = \(refusedURLs[0])
            signing_secret = whsec_\(signingSecret)!
            [http other]
            url = \(refusedURLs[2])
            """)
        let check = try runTool(["check", refused])
        #expect(check.status != 0)
        #expect(check.err.contains(":6:") && check.err.contains("is not shown"), "\(check.err)")
        var texts = [check.out, check.err]
        let send = try runTool(["send-test", url, "--signing-secret", signingSecret, "--timeout", "5s"])
        #expect(send.out.contains("http://***@127.0.0.1:\(receiver.port)/hook/…?token=***"), "\(send.out)")
        texts += [send.out, send.err]
        for bad in refusedURLs {
            let refusedSend = try runTool(["send-test", bad])
            #expect(refusedSend.status != 0)
            texts += [refusedSend.out, refusedSend.err]
        }
        let working = writeSettings("""
            log.destination = stderr
            shutdown_timeout = 0
            smtp.host = 127.0.0.1
            smtp.port = 9
            smtp.password = \(smtpPassword)
            [http hook]
            url = \(url)
            signing_secret = \(signingSecret)
            retry_interval = 100ms
            email_contacts = oncall@example.com
            email_alert_after = 0
            """)
        let emit = try runTool(["emit", working, "support_conference_end", "lsid=x", "--timeout", "2s"])
        #expect(emit.status != 0)
        #expect(emit.err.contains("OE_URL") || emit.err.contains("failing"),
                "the stderr log was written: \(emit.err.prefix(300))")
        texts += [emit.out, emit.err]
        self.check(texts, "the tool's output")
    }
}

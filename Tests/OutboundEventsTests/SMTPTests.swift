import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

extension LiveAgent {
    var smtpStatus: String {
        let status = try! statusObject(agent)
        return (status["smtp"] as! [String: Any])["status"] as! String
    }

    /// The status holds the relay's error: neither "OK" nor "not checked".
    var smtpFailing: Bool { !["OK", "not checked"].contains(smtpStatus) }
}

/// Both kinds of email against a real SMTP server (SPEC 2 and 4): event emails and alerts,
/// plain and with STARTTLS, a relay that is down or refuses.
@Suite("Email through a real SMTP relay")
struct SMTPTests {
    @Test("an event email arrives well formed: headers, encoded subject, body, every address")
    func eventEmail() throws {
        let relay = try SMTPRelay()
        let live = try LiveAgent(relay.settings(extra: [("appliance_id", "bseries-01")]))
        try live.putEmail("ops", [("addresses", "a@example.com, b@example.com"),
                                  ("subject", "Sitzung beendet – %LSID% (%EXTERNAL_KEY%)"),
                                  ("body", "Session %LSID% ended at %TIME%.\n.\nA line with a lone dot above.\n"
                                      + "Customer: %CUSTOM:customer%")])
        live.emit("support_conference_end", [("lsid", "L-1"), ("external_key", "INC-7")],
                  custom: [("customer", "Jürgen")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let message = try #require(relay.messages.first)
        #expect(message.from == "appliance@bseries.example")
        #expect(message.to == ["a@example.com", "b@example.com"])
        #expect(message.subject == "Sitzung beendet – L-1 (INC-7)")
        #expect(message.body.contains("Session L-1 ended at 20"))
        #expect(message.body.contains("\n.\nA line with a lone dot above.\n"))
        #expect(message.body.contains("Customer: Jürgen"))
        for header in ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"] {
            #expect(message.headers[header] != nil, "\(header)")
        }
        #expect(live.smtpStatus == "OK")
    }

    @Test("STARTTLS with the uploaded CA and a login")
    func startTLS() throws {
        let relay = try SMTPRelay(tls: TestPKI.shared.server, auth: "agent:s3cret-pass")
        let live = try LiveAgent(relay.settings(encryption: "starttls", extra: [
            ("smtp.ca_certificate", TestPKI.shared.caPEM), ("smtp.username", "agent"), ("smtp.password", "s3cret-pass"),
        ]))
        try live.putEmail("ops", [("addresses", "a@example.com")])
        live.emit("support_conference_end", [("lsid", "tls")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(relay.messages.first?.tls == true)
        #expect(!live.agent.status().contains("s3cret"), "the password never appears in status")
    }

    @Test("a relay with a certificate the uploaded CA did not sign is refused")
    func startTLSWrongCA() throws {
        let relay = try SMTPRelay(tls: TestPKI.shared.server)
        let live = try LiveAgent(relay.settings(encryption: "starttls",
                                                extra: [("smtp.ca_certificate", TestPKI.shared.otherCAPEM)]))
        try live.putEmail("ops", [("addresses", "a@example.com")])
        live.emit("support_conference_end", [("lsid", "x")])
        #expect(waitUntil { live.smtpFailing })
        #expect(live.smtpStatus.contains("TLS"), "\(live.smtpStatus)")
        #expect(relay.messages.isEmpty)
    }

    @Test("relay down, then up: the email arrives and the status goes from the error to OK")
    func relayDownThenUp() throws {
        let relay = try SMTPRelay()
        let live = try LiveAgent(relay.settings())
        try live.putEmail("ops", [("addresses", "a@example.com")])
        relay.stop()
        live.emit("support_conference_end", [("lsid", "waiting")])
        // The first attempt may meet the relay while it is being killed (a connection cut mid-greeting);
        // the status settles on the refused connection of the retries that follow.
        #expect(waitUntil { live.smtpFailing })
        #expect(waitUntil { live.smtpStatus.contains("onnect") || live.smtpStatus.contains("refused") },
                "\(live.smtpStatus)")
        try relay.restart()
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(relay.messages.count == 1)
        #expect(live.smtpStatus == "OK")
    }

    @Test("a relay refusing with 550 shows its reply in the status")
    func relayRejects() throws {
        let relay = try SMTPRelay()
        relay.setControl("reject")
        let live = try LiveAgent(relay.settings())
        try live.putEmail("ops", [("addresses", "a@example.com")])
        live.emit("support_conference_end", [("lsid", "x")])
        #expect(waitUntil { live.smtpFailing })
        #expect(live.smtpStatus.contains("550 5.7.1 Relaying denied"), "\(live.smtpStatus)")
        relay.setControl("accept")
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(live.smtpStatus == "OK")
    }

    @Test("a relay that refuses one address at RCPT: the others get the email, the refused one is logged with the reply and counted")
    func partialRefusal() throws {
        let relay = try SMTPRelay()
        relay.setControl("reject bad")
        let live = try LiveAgent(relay.settings())
        try live.putEmail("ops", [("addresses", "good@example.com, bad@example.com, also-good@example.com")])
        live.emit("support_conference_end", [("lsid", "partial")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(relay.messages.count == 1)
        #expect(relay.messages.first?.to == ["good@example.com", "also-good@example.com"])
        #expect(live.recipient("ops")["refused_addresses"] as? Int == 1)
        #expect(live.recipient("ops")["delivered"] as? Int == 1)
        let entries = live.log.entries(.addressRefused)
        #expect(entries.count == 1)
        #expect(entries.first?.fields.contains { $0.name == "OE_ADDRESS" && $0.value == "bad@example.com" } == true)
        #expect(entries.first?.message.contains("550 5.1.1") == true, "\(entries.first?.message ?? "")")
        #expect(live.smtpStatus == "OK")
    }

    @Test("a relay that refuses every address: a failure, retried, nothing counted as delivered")
    func allRefused() throws {
        let relay = try SMTPRelay()
        relay.setControl("reject bad")
        let live = try LiveAgent(relay.settings())
        try live.putEmail("ops", [("addresses", "bad1@example.com, bad2@example.com")])
        live.emit("support_conference_end", [("lsid", "none")])
        #expect(waitUntil { live.smtpFailing })
        #expect(live.smtpStatus.contains("550"), "\(live.smtpStatus)")
        #expect(live.recipient("ops")["delivered"] as? Int == 0)
        #expect((live.recipient("ops")["attempts"] as? Int ?? 0) >= 1)
        relay.setControl("accept")
        #expect(live.agent.flush(timeout: 10_000) == .ok, "retried until the relay takes it")
        #expect(relay.messages.count == 1)
    }

    @Test("smtp.status starts again from \"not checked\" when smtp.* change: no former relay's error shows")
    func statusResetsOnChange() throws {
        let relay = try SMTPRelay()
        relay.setControl("reject")
        let live = try LiveAgent(relay.settings())
        #expect(["not checked", "OK"].contains(live.smtpStatus), "a relay that takes NOOP checks OK before any mail")
        try live.putEmail("ops", [("addresses", "a@example.com")])
        live.emit("support_conference_end", [("lsid", "x")])
        #expect(waitUntil { live.smtpFailing })
        try live.agent.configure([(key: "smtp.retry_interval", value: "300ms")])
        #expect(live.smtpStatus == "not checked" || live.smtpFailing)
        let other = try SMTPRelay()
        try live.agent.configure(other.settings().map { (key: $0.0, value: $0.1) })
        #expect(live.smtpStatus == "not checked" || live.smtpStatus == "OK", "\(live.smtpStatus)")
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(live.smtpStatus == "OK")
    }

    @Test("smtp.status is live before any email: OK from a check that sends no mail; not configured without smtp.host")
    func liveStatusOK() throws {
        let relay = try SMTPRelay(tls: TestPKI.shared.server, auth: "agent:s3cret-pass")
        let live = try LiveAgent(relay.settings(encryption: "starttls", extra: [
            ("smtp.ca_certificate", TestPKI.shared.caPEM), ("smtp.username", "agent"), ("smtp.password", "s3cret-pass"),
        ]))
        #expect(waitUntil { live.smtpStatus == "OK" }, "\(live.smtpStatus)")
        #expect(relay.messages.isEmpty, "a check sends no mail")
        let none = try LiveAgent()
        #expect(none.smtpStatus == "not configured")
    }

    @Test("smtp.status is live before any email: relay down, wrong CA, login refused each show as the relay or the connection says")
    func liveStatusFailures() throws {
        let down = try SMTPRelay()
        down.stop()
        let wrongCA = try SMTPRelay(tls: TestPKI.shared.server)
        let login = try SMTPRelay(tls: TestPKI.shared.server, auth: "agent:right-pass")
        let cases: [(LiveAgent, String)] = [
            (try LiveAgent(down.settings()), "onnect"),
            (try LiveAgent(wrongCA.settings(encryption: "starttls",
                                            extra: [("smtp.ca_certificate", TestPKI.shared.otherCAPEM)])), "TLS"),
            (try LiveAgent(login.settings(encryption: "starttls", extra: [
                ("smtp.ca_certificate", TestPKI.shared.caPEM),
                ("smtp.username", "agent"), ("smtp.password", "wrong-pass"),
            ])), "535"),
        ]
        for (live, expected) in cases {
            #expect(waitUntil { live.smtpFailing }, "\(expected)")
            #expect(live.smtpStatus.contains(expected), "\(live.smtpStatus)")
            #expect(waitUntil { live.log.entries(.smtpFailing).count == 1 })
            #expect(!live.agent.status().contains("wrong-pass"))
        }
        // The relay comes back: the next check (every smtp.retry_interval) says so.
        try down.restart()
        #expect(waitUntil { cases[0].0.smtpStatus == "OK" }, "\(cases[0].0.smtpStatus)")
        #expect(waitUntil { cases[0].0.log.entries(.smtpRecovered).count == 1 })
        #expect(down.messages.isEmpty && wrongCA.messages.isEmpty && login.messages.isEmpty)
    }

    @Test("send-test mailto: one email through the settings file's relay, each step shown, the password never")
    func sendTestMail() throws {
        let relay = try SMTPRelay(tls: TestPKI.shared.server, auth: "agent:s3cret-pass")
        let directory = temporaryDirectory("mailto").path
        try TestPKI.shared.caPEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
        try TestPKI.shared.otherCAPEM.write(toFile: directory + "/other.pem", atomically: true, encoding: .utf8)
        func settings(password: String, ca: String) -> String {
            writeSettings("""
                smtp.host = localhost
                smtp.port = \(relay.port)
                smtp.encryption = starttls
                smtp.username = agent
                smtp.password = \(password)
                smtp.from = appliance@bseries.example
                smtp.ca_certificate = @\(directory)/\(ca)
                """)
        }
        let good = try runTool(["send-test", "mailto:ops@example.com",
                                "--settings", settings(password: "s3cret-pass", ca: "ca.pem")])
        #expect(good.status == 0, "\(good.out)\(good.err)")
        for step in ["> EHLO", "> STARTTLS", "TLS:          TLSv1.", "certificate verified against the uploaded CA",
                     "> AUTH PLAIN", "< 235 ", "> RCPT TO:<ops@example.com>", "< 250 Message accepted", "> QUIT",
                     " ms in all", "Delivered:    yes"] {
            #expect(good.out.contains(step), "\(step) in \(good.out)")
        }
        #expect(relay.messages.count == 1 && relay.messages.first?.to == ["ops@example.com"])

        let wrongLogin = try runTool(["send-test", "mailto:ops@example.com",
                                      "--settings", settings(password: "wrong-pass", ca: "ca.pem")])
        #expect(wrongLogin.status == 1)
        #expect(wrongLogin.out.contains("< 535 ") && wrongLogin.out.contains("Delivered:    no"), "\(wrongLogin.out)")
        let wrongCA = try runTool(["send-test", "mailto:ops@example.com",
                                   "--settings", settings(password: "s3cret-pass", ca: "other.pem")])
        #expect(wrongCA.status == 1)
        #expect(wrongCA.out.contains("verification FAILED"), "\(wrongCA.out)")
        for output in [good, wrongLogin, wrongCA] {
            #expect(!(output.out + output.err).contains("s3cret-pass")
                    && !(output.out + output.err).contains("wrong-pass"))
            // PLAIN credentials are base64 of "\0agent\0password": never shown either.
            #expect(!(output.out + output.err).contains(Data("\0agent\0s3cret-pass".utf8).base64EncodedString()))
        }
        #expect(relay.messages.count == 1)
    }

    @Test("an alert arrives end to end when a webhook keeps failing past a short threshold")
    func alertEndToEnd() throws {
        let relay = try SMTPRelay()
        let receiver = try Receiver(control: "503")
        let live = try LiveAgent(relay.settings(extra: [("appliance_id", "bseries-01")]))
        try live.put("ticketing", [("url", receiver.url), ("retry_interval", "200ms"),
                                   ("email_contacts", "oncall@example.com"),
                                   ("email_alert_after", "1s"), ("email_alert_resend", "1h")])
        live.emit("support_conference_end", [("lsid", "x")])
        #expect(waitUntil(15) { !relay.messages.isEmpty })
        let alert = try #require(relay.messages.first)
        #expect(alert.to == ["oncall@example.com"])
        #expect(alert.subject.contains("\"ticketing\"") && alert.subject.contains("bseries-01"))
        #expect(alert.body.contains(receiver.url) && alert.body.contains("HTTP 503"))
        receiver.setControl("200")
        #expect(waitUntil(15) { relay.messages.count == 2 })
        #expect(relay.messages[1].subject.contains("recovered"))
    }
}

import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

extension ManualAgent {
    static func withRelay(_ extra: [(String, String)] = []) throws -> ManualAgent {
        try ManualAgent([("smtp.host", "relay.example"), ("smtp.encryption", "none"),
                         ("smtp.from", "appliance@example.com"), ("smtp.retry_interval", "1m"),
                         ("appliance_id", "bseries-01")] + extra)
    }

    func mailText(_ index: Int) -> String {
        String(decoding: transport.mails[index].mail.message, as: UTF8.self)
    }

    /// The decoded Subject header of mail `index`.
    func subject(_ index: Int) -> String {
        let text = mailText(index)
        let start = text.firstRange(of: "\r\nSubject: ")!.upperBound
        var value = String(text[start..<text[start...].firstRange(of: "\r\n")!.lowerBound])
        if value.hasPrefix("=?UTF-8?B?") {
            let words = text[start...].components(separatedBy: "\r\n")
                .prefix { $0.hasPrefix("=?") || $0.hasPrefix(" =?") }
            value = words.map { word -> String in
                let trimmed = word.trimmingCharacters(in: .whitespaces).dropFirst(10).dropLast(2)
                return String(decoding: Base64.decode(trimmed)!, as: UTF8.self)
            }.joined()
        }
        return value
    }
}

@Suite("Email recipients, the relay's status and failure alerts (injected clock)")
struct AgentMailTests {
    let alertSlot = 64

    @Test("each selected event becomes one email to all of the recipient's addresses, with macros rendered")
    func eventEmail() throws {
        let m = try ManualAgent.withRelay()
        try m.putEmail("ops", [("addresses", "a@example.com, b@example.com"),
                               ("subject", "%EVENT_LABEL% %LSID% for %CUSTOM:customer%"),
                               ("body", "Key %EXTERNAL_KEY% at %TIME% on %APPLIANCE_ID%, 100%%")])
        m.emit("support_conference_begin", [("lsid", "not-email-capable")])
        m.emit("support_conference_end", [("lsid", "L1"), ("external_key", "T-9")], custom: [("customer", "ACME")])
        m.turn()
        #expect(m.transport.mails.count == 1)
        let envelope = m.transport.mails[0].mail
        #expect(envelope.from == "appliance@example.com")
        #expect(envelope.recipients == ["a@example.com", "b@example.com"])
        #expect(m.subject(0) == "Session end L1 for ACME")
        #expect(m.mailText(0).contains("Key T-9 at 2026-11-18T"))
        #expect(m.mailText(0).contains("on bseries-01, 100%"))
    }

    @Test("the default subject and body name the event, the time and every variable")
    func defaults() throws {
        let m = try ManualAgent.withRelay()
        try m.putEmail("ops", [("addresses", "a@example.com")])
        m.emit("support_conference_customer_exit_survey_completed", [("lsid", "L2"), ("rating", "5")])
        m.turn()
        #expect(m.subject(0) == "Customer exit survey completed: session L2")
        let text = m.mailText(0)
        for line in ["Customer exit survey completed", "Time: ", "lsid: L2", "rating: 5", "appliance_id: bseries-01"] {
            #expect(text.contains(line), "\(line)")
        }
    }

    @Test("require_external_key: only events with a non-empty external_key at emit time")
    func requireExternalKey() throws {
        let m = try ManualAgent.withRelay()
        try m.putEmail("keyed", [("addresses", "a@example.com"), ("require_external_key", "true")])
        m.emit("support_conference_end", [("lsid", "none")])
        m.emit("support_conference_end", [("lsid", "empty"), ("external_key", "")])
        m.emit("support_conference_end", [("lsid", "keyed"), ("external_key", "INC-1")])
        m.turn()
        #expect(m.transport.mails.count == 1)
        #expect(m.subject(0) == "Session end: session keyed")
        m.transport.succeed(0)
        m.settle()
        #expect(m.transport.mails.count == 1)
    }

    @Test("ten addresses are accepted, eleven refused")
    func addressLimit() throws {
        let m = try ManualAgent.withRelay()
        let ten = (1...10).map { "u\($0)@example.com" }.joined(separator: ",")
        try m.putEmail("ten", [("addresses", ten)])
        #expect(throws: ConfigError.self) { try m.putEmail("eleven", [("addresses", ten + ",u11@example.com")]) }
    }

    @Test("a failing relay is retried every smtp.retry_interval; the relay's reply is the SMTP status until it recovers")
    func relayFailure() throws {
        let m = try ManualAgent.withRelay()
        try m.putEmail("ops", [("addresses", "a@example.com")])
        m.emit("support_conference_end", [("lsid", "L")])
        m.turn()
        m.transport.finish(0, DeliveryResult(status: 451, failure: .refused,
                                             error: "SMTP: relay replied 451 4.3.0 Try again later", elapsed: 1))
        m.settle()
        #expect((try m.status()["smtp"] as! [String: Any])["status"] as? String
                == "relay replied 451 4.3.0 Try again later")
        #expect(m.log.entries(.smtpFailing).count == 1)
        m.clock.advance(59_999)
        m.turn()
        #expect(m.transport.mails.count == 1)
        m.clock.advance(1)
        m.turn()
        #expect(m.transport.mails.count == 2)
        m.transport.succeed(0)
        m.settle()
        #expect((try m.status()["smtp"] as! [String: Any])["status"] as? String == "OK")
        #expect(m.log.entries(.smtpRecovered).count == 1)
        #expect(try m.recipient("ops")["delivered"] as? Int == 1)
    }

    @Test("an email failing past the recipient's retry_duration is dropped and logged")
    func emailExpiry() throws {
        let m = try ManualAgent.withRelay()
        try m.putEmail("ops", [("addresses", "a@example.com"), ("retry_duration", "2m")])
        m.emit("support_conference_end", [("lsid", "L")])
        m.turn()
        for _ in 0..<3 {
            m.transport.finish(0, DeliveryResult(status: 0, failure: .network, error: "SMTP: Connection refused",
                                                 elapsed: 1))
            m.settle()
            m.clock.advance(60_000)
            m.turn()
        }
        #expect(try m.recipient("ops")["dropped_expired"] as? Int == 1)
        #expect(m.log.entries(.emailDropped).count == 1)
    }

    @Test("without a relay, emails wait and the SMTP status says so")
    func noRelay() throws {
        let m = try ManualAgent()
        try m.putEmail("ops", [("addresses", "a@example.com")])
        m.emit("support_conference_end", [("lsid", "L")])
        m.settle()
        #expect(m.transport.mails.isEmpty)
        #expect((try m.status()["smtp"] as! [String: Any])["status"] as? String == "not configured")
        #expect((try m.recipient("ops")["status"] as? String)?.contains("smtp.host") == true)
        try m.agent.configure([(key: "smtp.host", value: "relay.example"), (key: "smtp.encryption", value: "none")])
        m.turn()
        #expect(m.transport.mails.count == 1)
    }

    func failingRecipient(after: String = "1h", resend: String = "1d",
                          retryDuration: String = "1d") throws -> ManualAgent {
        let m = try ManualAgent.withRelay()
        try m.put("hook", [("url", "https://user:pw@hooks.example/x"), ("retry_interval", "1m"),
                           ("email_contacts", "oncall@example.com"), ("email_alert_after", after),
                           ("email_alert_resend", resend), ("retry_duration", retryDuration)])
        m.emit("support_conference_end", [("lsid", "L")])
        m.turn()
        return m
    }

    /// Fails the webhook every minute for `minutes`, sending any alert that starts.
    func keepFailing(_ m: ManualAgent, minutes: Int) {
        for _ in 0..<minutes {
            if m.transport.inFlight.contains(0) { m.transport.fail(0) }
            if m.transport.inFlight.contains(alertSlot) { m.transport.succeed(alertSlot) }
            m.turn()
            m.clock.advance(60_000)
            m.turn()
        }
    }

    @Test("the first alert comes after email_alert_after of failure, then one every email_alert_resend")
    func alertTiming() throws {
        // The event keeps failing past the test (a dropped one would end the alerts).
        let m = try failingRecipient(after: "1h", resend: "1d", retryDuration: "1w")
        keepFailing(m, minutes: 59)
        #expect(m.transport.mails.isEmpty)
        keepFailing(m, minutes: 2)
        #expect(m.transport.mails.count == 1)
        keepFailing(m, minutes: 23 * 60)
        #expect(m.transport.mails.count == 1)
        keepFailing(m, minutes: 62)
        #expect(m.transport.mails.count == 2)
        let alert = m.mailText(0)
        #expect(m.transport.mails[0].mail.recipients == ["oncall@example.com"])
        #expect(m.subject(0).contains("\"hook\"") && m.subject(0).contains("failing for 1h"))
        for text in ["https://***@hooks.example/x", "HTTP 503 Service Unavailable", "Failing since:",
                     "Queued events:   1", "Dropped so far:"] {
            #expect(alert.contains(text), "\(text)")
        }
        #expect(!alert.contains("pw@"), "the URL password never appears")
        #expect(m.log.entries(.alertSent).count == 2)
    }

    @Test("no alert when the recipient recovers before the threshold")
    func noAlertOnQuickRecovery() throws {
        let m = try failingRecipient(after: "1h")
        keepFailing(m, minutes: 30)
        m.transport.succeed(0)
        m.settle()
        keepFailing(m, minutes: 90)
        #expect(m.transport.mails.isEmpty)
    }

    @Test("alerts end when the failing event is dropped with nothing queued, the last one saying so; they start again when a new event fails")
    func alertsEndWhenTheEventIsDropped() throws {
        let m = try failingRecipient(after: "10m", resend: "30m", retryDuration: "1h")
        keepFailing(m, minutes: 70)
        #expect(m.transport.mails.count == 3, "alerts at 10 and 40 minutes, then the last one at the drop (60)")
        #expect(m.subject(2).contains("\"hook\"")
                    && m.subject(2).contains("dropped its last queued event; alerts end"), "\(m.subject(2))")
        let last = m.mailText(2)
        for text in ["Dropped event:   support_conference_end evt_", "HTTP 503 Service Unavailable", "Failing since:",
                     "1 after their retry duration (1h)", "the next comes only if a new event fails"] {
            #expect(last.contains(text), "\(text)")
        }
        keepFailing(m, minutes: 2 * 24 * 60)
        #expect(m.transport.mails.count == 3, "nothing fails while nothing is queued: no more alerts")
        m.emit("support_conference_end", [("lsid", "again")])
        m.turn()
        keepFailing(m, minutes: 9)
        #expect(m.transport.mails.count == 3)
        keepFailing(m, minutes: 2)
        #expect(m.transport.mails.count == 4,
                "a new failing event, a new stream: its first alert after email_alert_after")
        #expect(m.subject(3).contains("failing for"), "\(m.subject(3))")
    }

    @Test("a recipient that alerted sends one recovery email when it recovers")
    func recoveryEmail() throws {
        let m = try failingRecipient(after: "10m")
        keepFailing(m, minutes: 11)
        #expect(m.transport.mails.count == 1)
        m.transport.succeed(0)
        m.settle()
        keepFailing(m, minutes: 1)
        #expect(m.transport.mails.count == 2)
        #expect(m.subject(1).contains("recovered"))
    }
}

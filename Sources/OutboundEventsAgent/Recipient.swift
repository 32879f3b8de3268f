import OutboundEventsCore

/// One configured recipient: its settings, its delivery state machine and what the agent keeps
/// beside it. Lives in one of the agent's slots; guarded by the agent's lock, except the
/// buffers, which only the delivery thread touches.
final class Recipient {
    enum Kind: String { case http, email }

    let name: String
    let kind: Kind
    var http: HTTPRecipientSettings?
    var email: EmailRecipientSettings?
    /// SPEC 2's rules for this recipient (core: `RecipientDelivery`).
    var delivery: RecipientDelivery

    /// The event in flight, for log lines.
    var currentEventID = ""
    var currentEventName = ""
    /// Events discarded when it was disabled (its counter in the status).
    var discarded: UInt64 = 0
    /// Overflow drops already reported in the journal.
    var overflowLogged: UInt64 = 0

    /// Reused from one delivery to the next, and touched by the delivery thread only: the
    /// event in flight copied out of the ring, and the request made of it.
    var currentEvent: [UInt8] = []
    var body: [UInt8] = []
    var headers: [String] = []

    init(name: String, http: HTTPRecipientSettings, smtpRetryInterval: Millis) {
        self.name = name
        kind = .http
        self.http = http
        delivery = RecipientDelivery(policy: Self.policy(http: http, email: nil, smtpRetryInterval: smtpRetryInterval))
    }

    init(name: String, email: EmailRecipientSettings, smtpRetryInterval: Millis) {
        self.name = name
        kind = .email
        self.email = email
        delivery = RecipientDelivery(policy: Self.policy(http: nil, email: email, smtpRetryInterval: smtpRetryInterval))
    }

    var enabled: Bool { http?.enabled ?? email?.enabled ?? false }

    func wants(_ eventIndex: Int) -> Bool {
        http?.events.contains(eventIndex) ?? email?.events.contains(eventIndex) ?? false
    }

    /// Webhooks retry on their own interval; email on the relay's, `smtp.retry_interval`.
    static func policy(http: HTTPRecipientSettings?, email: EmailRecipientSettings?,
                       smtpRetryInterval: Millis) -> RecipientDelivery.Policy {
        if let http {
            let alerts = http.emailContacts.isEmpty ? nil
                : RecipientDelivery.AlertPolicy(after: http.emailAlertAfter, resend: http.emailAlertResend)
            return RecipientDelivery.Policy(retryInterval: http.retryInterval, retryDuration: http.retryDuration,
                                            alerts: alerts)
        }
        return RecipientDelivery.Policy(retryInterval: smtpRetryInterval,
                                        retryDuration: email?.retryDuration ?? 86_400_000)
    }

    func policy(smtpRetryInterval: Millis) -> RecipientDelivery.Policy {
        Self.policy(http: http, email: email, smtpRetryInterval: smtpRetryInterval)
    }

    /// "OK", or what is wrong: the last error of a failure streak, or why nothing can be sent.
    var statusText: String {
        if let streak = delivery.streak { return streak.lastError }
        if delivery.phase == .unrouted && email != nil { return "waiting: no SMTP relay is configured (smtp.host)" }
        return "OK"
    }

    /// The `OE_*` fields every journal entry about this recipient carries.
    var logFields: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [("OE_RECIPIENT", name)]
        if let url = http?.url { fields.append(("OE_URL", url.redacted)) }
        return fields
    }
}

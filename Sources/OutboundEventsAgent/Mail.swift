import OutboundEventsCore

/// An email waiting for the relay that is not an event: a failure alert or a recovery notice.
struct PendingMail {
    let recipient: String
    let subject: String
    let envelope: MailEnvelope
    let queuedAt: Millis
}

/// The two kinds of email (SPEC 2 and 4): one per selected event for email recipients, and
/// failure alerts for HTTP recipients with email contacts.
extension Agent {
    /// Alerts not accepted by the relay within a day are dropped: by then they are stale.
    static let alertLifetime: Millis = 86_400_000
    /// At most this many alerts wait; the oldest goes first when more come.
    static let maxPendingAlerts = 100

    /// The envelope sender: `smtp.from`, or outbound-events at this host.
    var mailFrom: String { Self.sender(settings.smtp) }

    /// `smtp.from`, or outbound-events at this host (for the tool's test email too).
    public static func sender(_ smtp: SMTPSettings) -> String {
        if !smtp.from.isEmpty { return smtp.from }
        let host = hostName()
        return "outbound-events@\(host.isEmpty ? "localhost" : host)"
    }

    /// The domain of a sender address, for Message-IDs.
    public static func domain(of address: String) -> String {
        String(address.split(separator: "@").last ?? "localhost")
    }

    /// One event as an email: subject and body from the recipient's templates, addressed to all
    /// of its addresses. The Message-ID is the same on every attempt, like a webhook-id. Reads
    /// nothing the lock guards: it runs after the lock is released.
    func eventMail(_ event: EventView, id: String, slot: Int, settings email: EmailRecipientSettings,
                   applianceID: String, from: String) -> MailEnvelope {
        let index = profile.index(of: event.nameString) ?? 0
        let values = MacroValues(event: event, label: profile.events[index].label, version: profile.version,
                                 applianceID: applianceID)
        let message = MailMessage(from: from, to: email.addresses, subject: email.subject.render(values),
                                  body: email.body?.render(values) ?? EventEmail.defaultBody(values),
                                  date: clock.unixSeconds(), messageID: "\(id).r\(slot)@\(Self.domain(of: from))")
        return MailEnvelope(from: from, recipients: email.addresses, message: message.rendered())
    }

    /// "recipient X has been failing for 1h": what, since when, what is queued and dropped.
    func queueFailureAlert(_ recipient: Recipient, slot: Int, now: Millis) {
        guard let http = recipient.http, let streak = recipient.delivery.streak else { return }
        let failingFor = Self.duration(now - streak.since)
        let subject = "Outbound events: HTTP recipient \"\(recipient.name)\" on \(settings.applianceID)"
            + " failing for \(failingFor)"
        let droppedSoFar = "\(recipient.delivery.counters.droppedExpired) after their retry duration,"
            + " \(queue.slot(slot).droppedOverflow) for lack of queue space"
        let retrying = "every \(Self.duration(http.retryInterval)); an event is dropped after"
            + " \(Self.duration(http.retryDuration)) of failures"
        let body = """
            The HTTP recipient "\(recipient.name)" of appliance \(settings.applianceID) has not accepted \
            events for \(failingFor).

            URL:             \(http.url?.redacted ?? "")
            Last error:      \(streak.lastError)
            Failing since:   \(RFC3339.format(streak.sinceUnix))
            Queued events:   \(queue.slot(slot).queued)
            Dropped so far:  \(droppedSoFar)
            Retrying:        \(retrying)

            While it keeps failing, this alert is sent again every \(Self.duration(http.emailAlertResend)); \
            if its failing event is dropped with nothing queued behind it, one last alert says so.
            On the appliance: journalctl -x -t \(settings.logIdentifier) OE_RECIPIENT=\(recipient.name)
            """
        queueAlert(recipient.name, to: http.emailContacts, subject: subject, body: body, now: now)
    }

    /// The last alert of a stream: the event that kept failing was dropped (after its retry
    /// duration, or evicted for room) and nothing else waits, so nothing is failing any more.
    func queueDroppedAlert(_ recipient: Recipient, slot: Int, now: Millis) {
        guard let http = recipient.http, let streak = recipient.delivery.streak else { return }
        let subject = "Outbound events: HTTP recipient \"\(recipient.name)\" on \(settings.applianceID)"
            + " dropped its last queued event; alerts end"
        let droppedSoFar = "\(recipient.delivery.counters.droppedExpired) after their retry duration"
            + " (\(Self.duration(http.retryDuration))), \(queue.slot(slot).droppedOverflow) for lack of queue space"
        let body = """
            The HTTP recipient "\(recipient.name)" of appliance \(settings.applianceID) was still failing \
            when its last queued event was dropped. Nothing is queued for it now.

            URL:             \(http.url?.redacted ?? "")
            Dropped event:   \(recipient.currentEventName) \(recipient.currentEventID)
            Last error:      \(streak.lastError)
            Failing since:   \(RFC3339.format(streak.sinceUnix))
            Dropped so far:  \(droppedSoFar)

            This is the last alert about it: the next comes only if a new event fails \
            for \(Self.duration(http.emailAlertAfter)).
            On the appliance: journalctl -x -t \(settings.logIdentifier) OE_RECIPIENT=\(recipient.name)
            """
        queueAlert(recipient.name, to: http.emailContacts, subject: subject, body: body, now: now)
    }

    /// Sent once when a recipient that had alerted accepts events again.
    func queueRecoveryAlert(_ recipient: Recipient, failedFor: Millis, failedAttempts: Int, dropped: Int, now: Millis) {
        guard let http = recipient.http else { return }
        let failedFor = Self.duration(failedFor)
        let subject = "Outbound events: HTTP recipient \"\(recipient.name)\" on \(settings.applianceID) recovered"
        let body = """
            The HTTP recipient "\(recipient.name)" of appliance \(settings.applianceID) accepts events again, \
            after failing for \(failedFor).

            URL:              \(http.url?.redacted ?? "")
            Failed attempts:  \(failedAttempts)
            Events dropped:   \(dropped) while it failed
            Queued events are being delivered now, in order.
            """
        queueAlert(recipient.name, to: http.emailContacts, subject: subject, body: body, now: now)
    }

    func queueAlert(_ recipient: String, to contacts: [String], subject: String, body: String, now: Millis) {
        let from = mailFrom
        let message = MailMessage(from: from, to: contacts, subject: subject, body: body + "\n",
                                  date: clock.unixSeconds(),
                                  messageID: "alert-\(wire.instance)-\(now)-\(alerts.count)@\(Self.domain(of: from))")
        if alerts.count >= Self.maxPendingAlerts {
            let dropped = alerts.remove(at: alertInFlight ? 1 : 0)
            logLater(LogEntry(.warning, .emailDropped,
                              "alert email dropped, \(Self.maxPendingAlerts) were already waiting for the relay:"
                                  + " \(dropped.subject)",
                              fields: [("OE_RECIPIENT", dropped.recipient)]))
        }
        alerts.append(PendingMail(recipient: recipient, subject: subject,
                                  envelope: MailEnvelope(from: from, recipients: contacts, message: message.rendered()),
                                  queuedAt: now))
        if !settings.smtp.isConfigured {
            logLater(LogEntry(.warning, .smtpFailing,
                              "alert email for recipient \(Values.quote(recipient)) waits:"
                                  + " no SMTP relay is configured (smtp.host)",
                              fields: [("OE_RECIPIENT", recipient)]))
        }
    }
}

import CSystem
import Locking
import OutboundEventsCore
import Spool
import TLSMaterial

/// The delivery loop: one thread around one libcurl multi handle, carrying every recipient and
/// the mail relay. Each turn, with the lock held, it brings the transport in line with the
/// configuration, shows each recipient's state machine (`RecipientDelivery`) its queue, and
/// collects what to send; then, with the lock released, it writes the log entries, encodes,
/// signs and starts the transfers, writes the status file, and waits for transfers to finish,
/// a retry to fall due, or an emit to wake it. Finished transfers go back to their machines.
extension Agent {
    /// Longest sleep of the loop: periodic work runs at least this often.
    static let housekeepingInterval: Millis = 1000
    /// How often `status.path` is rewritten.
    static let statusInterval: Millis = 2000
    static let formContentType = "Content-Type: " + BodyFormat.form.contentType
    static let jsonContentType = "Content-Type: " + BodyFormat.json.contentType

    /// The delivery thread; it holds the agent until the agent has finished closing.
    func startThread() -> Bool {
        guard let handle = Locking.startThread({ while self.turn(maxWait: Agent.housekeepingInterval) {} }) else {
            return false
        }
        thread = handle
        return true
    }

    /// One turn of the loop. Returns false once the agent has finished closing.
    public func turn(maxWait: Millis) -> Bool {
        var wait = maxWait
        var status: StatusSnapshot?
        var statusPath = ""
        let running: Bool = locked {
            let now = clock.monotonic()
            statusPath = settings.statusPath
            if closing && readyToStop(now) {
                finishClosing(now)
                if !statusPath.isEmpty || environment.publishStatus != nil { status = statusSnapshot() }
                return false
            }
            if appliedGeneration != configGeneration {
                appliedGeneration = configGeneration
                reconcileTransport(now)
            }
            startDue(now)
            swap(&startingSends, &pendingSends)
            if now - lastHousekeeping >= Self.housekeepingInterval || closing {
                lastHousekeeping = now
                housekeeping(now)
            }
            if (!statusPath.isEmpty || environment.publishStatus != nil)
               && now - lastStatusWrite >= Self.statusInterval {
                lastStatusWrite = now
                status = statusSnapshot()
            }
            wait = min(wait, nextWake(now))
            return true
        }
        for send in startingSends { start(send) }
        startingSends.removeAll(keepingCapacity: true)
        if let status { publish(status, path: statusPath) }
        guard running else { return false }
        var results: [(slot: Int, result: DeliveryResult)] = []
        transport.poll(timeout: wait) { results.append(($0, $1)) }
        if !results.isEmpty {
            let drained: Bool = locked {
                let now = clock.monotonic()
                for (slot, result) in results {
                    switch slot {
                    case Self.alertSlot: applyAlert(result)
                    case Self.relayCheckSlot: applyRelayCheck(result)
                    default: apply(result, slot: slot, now: now)
                    }
                }
                return flushWaiters > 0 && !hasPending()
            }
            // Flush waiters wake once the log entries of these results are written.
            if drained { lock.withLock { lock.broadcast() } }
        }
        return true
    }

    // MARK: Driving the state machines

    /// With the lock held: feeds one input to the recipient's machine and carries out what it
    /// says. Transfers to start go to `pendingSends`, started once the lock is released (only
    /// the delivery thread's ticks start attempts).
    func drive(_ recipient: Recipient, slot: Int, _ input: RecipientDelivery.Input, now: Millis) {
        actionBuffer.removeAll(keepingCapacity: true)
        recipient.delivery.handle(input, now: now, into: &actionBuffer)
        for action in actionBuffer {
            switch action {
            case .startAttempt:
                guard let event = queue.beginDelivery(slot) else { continue }
                // The event is copied out of the ring: its id and name, encoding, signing and
                // mail templates are made after the lock is released, and never hold up an emit.
                recipient.currentEvent.removeAll(keepingCapacity: true)
                recipient.currentEvent.append(contentsOf: event.bytes)
                if let http = recipient.http {
                    pendingSends.append(.webhook(PendingWebhook(slot: slot, recipient: recipient, seq: event.seq,
                                                                 customFields: http.sendCustomFields,
                                                                 format: http.bodyFormat,
                                                                 signingKeys: http.signingKeys, wire: wire)))
                } else if let email = recipient.email {
                    pendingSends.append(.mail(PendingEventMail(slot: slot, recipient: recipient, seq: event.seq,
                                                               wire: wire, settings: email,
                                                               applianceID: settings.applianceID, from: mailFrom)))
                }
            case .cancelAttempt:
                // The transfer itself is cancelled by the delivery thread (reconcileTransport,
                // finishClosing); its result, if one comes, is ignored by the machine.
                queue.cancelDelivery(slot)
            case .finishHead(let outcome):
                queue.finishDelivery(slot, outcome)
                spoolDirty = true
            case .discardPending(let reason):
                let count = queue.deactivate(slot)
                spoolDirty = true
                recipient.discarded += UInt64(count)
                lock.broadcast()
                if count > 0 {
                    logLater(LogEntry(.notice, .eventsDiscarded,
                                      "recipient \(Values.quote(recipient.name)) \(reason.rawValue): "
                                          + "\(Self.count(count, "pending event")) discarded",
                                      fields: recipient.logFields))
                }
            case .log(let kind):
                for entry in entries(kind, recipient: recipient, slot: slot) { logLater(entry) }
            case .sendFailureAlert:
                queueFailureAlert(recipient, slot: slot, now: now)
            case .sendDroppedAlert:
                queueDroppedAlert(recipient, slot: slot, now: now)
            case .sendRecoveryAlert(let failedFor, let failedAttempts, let dropped):
                queueRecoveryAlert(recipient, failedFor: failedFor, failedAttempts: failedAttempts, dropped: dropped,
                                   now: now)
            }
        }
    }

    /// Shows every machine its queue: a recipient with an event at the head of line and no
    /// attempt in flight starts one when its retry time has come. Also starts the oldest alert
    /// email and, when due, a relay check.
    func startDue(_ now: Millis) {
        for slot in slots.indices {
            guard let recipient = slots[slot], recipient.enabled else { continue }
            let head = queue.slot(slot).headSeq
            if head == nil && !recipient.delivery.isSending { idleMask |= 1 << UInt64(slot) }
            drive(recipient, slot: slot, .tick(head: head), now: now)
        }
        if !alertInFlight, !alerts.isEmpty, alertNextAttempt <= now, applied[Self.alertSlot] != nil, !closing {
            alertInFlight = true
            transport.start(slot: Self.alertSlot, mail: alerts[0].envelope)
        }
        if relayCheckDue(now) {
            relayCheckInFlight = true
            mailResultsAtCheck = mailResults
            transport.startCheck(slot: Self.relayCheckSlot)
        }
    }

    /// An attempt of a recipient finished.
    func apply(_ result: DeliveryResult, slot: Int, now: Millis) {
        guard let recipient = slots[slot], recipient.enabled, ready(slot, recipient),
              recipient.delivery.isSending else { return }
        if recipient.email != nil {
            mailResults += 1
            noteRelay(result)
        }
        let evicted = queue.isInFlightEvicted(slot)
        drive(recipient, slot: slot, .finished(result, headEvicted: evicted, unixTime: clock.unixSeconds()), now: now)
    }

    // MARK: Transport configuration

    /// Brings the transport in line with the recipients and the relay: a new, edited or
    /// re-enabled recipient gets its handle configured, a removed or disabled one released. An
    /// edit that changes where or how events go cancels the attempt in flight, and the
    /// head-of-line event is sent again at once with the new settings, even if it was waiting
    /// for its retry interval.
    func reconcileTransport(_ now: Millis) {
        for slot in applied.indices {
            let desired: (recipient: Recipient?, target: TransferTarget)?
            let recipient = slot < EventQueue.maxSlots ? slots[slot] : nil
            if slot == Self.alertSlot || slot == Self.relayCheckSlot {
                desired = smtpTarget().map { (nil, $0) }
            } else {
                desired = recipient.flatMap { recipient in target(for: recipient).map { (recipient, $0) } }
            }
            if let recipient, recipient.enabled {
                let policy = recipient.policy(smtpRetryInterval: settings.smtp.retryInterval)
                if recipient.delivery.policy != policy {
                    drive(recipient, slot: slot, .policyChanged(policy), now: now)
                }
            }
            let current = applied[slot]
            if current?.recipient === desired?.recipient && current?.target == desired?.target {
                // Unchanged, but a recipient disabled and enabled again since the last turn
                // waits for its route.
                if let recipient, desired != nil, recipient.delivery.phase == .unrouted {
                    drive(recipient, slot: slot, .routeChanged(available: true), now: now)
                }
                continue
            }
            if current != nil {
                transport.cancel(slot: slot)
                if slot == Self.relayCheckSlot {
                    relayCheckInFlight = false
                    nextRelayCheck = now
                } else if slot == Self.alertSlot {
                    alertInFlight = false
                    alertNextAttempt = now
                }
            }
            if let desired {
                transport.configure(slot: slot, target: desired.target)
            } else if current != nil {
                transport.release(slot: slot)
            }
            applied[slot] = desired
            if let recipient, recipient.enabled {
                drive(recipient, slot: slot, .routeChanged(available: desired != nil), now: now)
            }
        }
    }

    func target(for recipient: Recipient) -> TransferTarget? {
        guard recipient.enabled else { return nil }
        if let http = recipient.http, let url = http.url {
            return .http(HTTPTarget(url: url.unredactedText, caCertificate: http.caCertificate,
                                    connectTimeout: settings.connectTimeout, requestTimeout: settings.requestTimeout,
                                    userAgent: "outbound-events/\(environment.version)",
                                    proxy: settings.proxy, noProxy: settings.noProxy))
        }
        return smtpTarget()
    }

    func smtpTarget() -> TransferTarget? {
        guard settings.smtp.isConfigured else { return nil }
        return .smtp(SMTPTarget(relay: settings.smtp, connectTimeout: settings.connectTimeout,
                                requestTimeout: settings.requestTimeout))
    }

    /// Whether the transport serves the slot's recipient now (results for a handle configured
    /// for an earlier recipient or settings are stale).
    func ready(_ slot: Int, _ recipient: Recipient) -> Bool {
        applied[slot]?.recipient === recipient
    }

    // MARK: Sending

    /// A transfer to start once the lock is released.
    enum PendingSend {
        case webhook(PendingWebhook)
        case mail(PendingEventMail)
    }

    struct PendingWebhook {
        let slot: Int
        let recipient: Recipient
        let seq: UInt64
        let customFields: Bool
        let format: BodyFormat
        let signingKeys: [Secret]
        let wire: WireFormat
    }

    struct PendingEventMail {
        let slot: Int
        let recipient: Recipient
        let seq: UInt64
        /// Read under the lock: `configure` may replace the agent's.
        let wire: WireFormat
        let settings: EmailRecipientSettings
        let applianceID: String
        let from: String
    }

    /// Encodes, signs and starts a transfer, on the delivery thread without the lock: only this
    /// thread touches a recipient's buffers and its current event (read by the log entries it
    /// makes), and a recipient removed or edited meanwhile has its transfer cancelled at the
    /// next turn.
    func start(_ send: PendingSend) {
        switch send {
        case .webhook(let webhook): start(webhook)
        case .mail(let mail):
            let id = mail.wire.eventID(seq: mail.seq)
            let envelope = mail.recipient.currentEvent.withUnsafeBytes { bytes in
                mail.recipient.currentEventID = id
                mail.recipient.currentEventName = EventView(bytes).nameString
                return eventMail(EventView(bytes), id: id, slot: mail.slot, settings: mail.settings,
                                 applianceID: mail.applianceID, from: mail.from)
            }
            transport.start(slot: mail.slot, mail: envelope)
        }
    }

    func start(_ webhook: PendingWebhook) {
        let recipient = webhook.recipient
        let id = webhook.wire.eventID(seq: webhook.seq)
        recipient.currentEventID = id
        recipient.currentEvent.withUnsafeBytes { bytes in
            recipient.currentEventName = EventView(bytes).nameString
            switch webhook.format {
            case .form:
                webhook.wire.body(of: EventView(bytes), customFields: webhook.customFields, into: &recipient.body)
            case .json:
                webhook.wire.jsonBody(of: EventView(bytes), customFields: webhook.customFields, into: &recipient.body)
            }
        }
        let attemptTime = clock.unixSeconds()
        recipient.headers.removeAll(keepingCapacity: true)
        recipient.headers.append(webhook.format == .json ? Self.jsonContentType : Self.formContentType)
        recipient.headers.append("webhook-id: \(id)")
        recipient.headers.append("webhook-timestamp: \(attemptTime)")
        if !webhook.signingKeys.isEmpty {
            // One signature per secret while secrets rotate: the receiver accepts any of them.
            var signatures = "webhook-signature:"
            for key in webhook.signingKeys {
                signatures += " v1," + HMACSHA256.base64Signature(key: key.unredactedBytes, id: id,
                                                                   timestamp: attemptTime, body: recipient.body)
            }
            recipient.headers.append(signatures)
        }
        transport.start(slot: webhook.slot, body: recipient.body, headers: recipient.headers)
    }

    // MARK: Alerts and the relay

    /// An alert email finished: sent, or retried every `smtp.retry_interval` for a day.
    func applyAlert(_ result: DeliveryResult) {
        guard alertInFlight, !alerts.isEmpty else { return }
        alertInFlight = false
        let now = clock.monotonic()
        mailResults += 1
        noteRelay(result)
        let alert = alerts[0]
        if result.succeeded {
            alerts.removeFirst()
            for refusal in result.refusedAddresses {
                logLater(refusedEntry(refusal, recipient: alert.recipient, what: "alert email"))
            }
            logLater(LogEntry(.info, .alertSent,
                              "alert email sent to \(alert.envelope.recipients.joined(separator: ", "))"
                                  + ": \(alert.subject)",
                              fields: [("OE_RECIPIENT", alert.recipient)]))
            alertNextAttempt = now
        } else if now - alert.queuedAt >= Self.alertLifetime {
            alerts.removeFirst()
            logLater(LogEntry(.warning, .emailDropped,
                              "alert email dropped after \(Self.duration(Self.alertLifetime)) of failed attempts: "
                                  + "\(alert.subject); last error: \(result.error)",
                              fields: [("OE_RECIPIENT", alert.recipient), ("OE_ERROR", result.error)]))
            alertNextAttempt = now
        } else {
            alertNextAttempt = now + settings.smtp.retryInterval
        }
    }

    /// Whether the relay should be checked now (SPEC 10): it is configured, no check is in
    /// flight, and no mail or check reached it for a retry interval (or `smtp.*` just changed).
    /// While mail waits for the relay, its own attempts (every retry interval) are the check:
    /// a relay that takes NOOP but refuses the mail is not OK.
    func relayCheckDue(_ now: Millis) -> Bool {
        relayCheckWaits && nextRelayCheck <= now
    }

    /// A relay check is armed: the relay is configured, and neither a check nor mail is on its way.
    var relayCheckWaits: Bool {
        !closing && !relayCheckInFlight && applied[Self.relayCheckSlot] != nil && !mailWaiting()
    }

    func mailWaiting() -> Bool {
        if alertInFlight || !alerts.isEmpty { return true }
        return slots.indices.contains { slot in
            guard let recipient = slots[slot], recipient.email != nil, recipient.enabled else { return false }
            return recipient.delivery.isSending || queue.slot(slot).hasPending
        }
    }

    /// A relay check finished: the status follows it, unless a mail's answer came meanwhile.
    func applyRelayCheck(_ result: DeliveryResult) {
        guard relayCheckInFlight else { return }
        relayCheckInFlight = false
        if mailResults == mailResultsAtCheck {
            noteRelay(result)
        } else {
            nextRelayCheck = clock.monotonic() + settings.smtp.retryInterval
        }
    }

    /// Keeps the relay's current status, logging when it starts failing and when it recovers.
    /// Every answer from the relay, mail or check, puts the next check a retry interval away.
    func noteRelay(_ result: DeliveryResult) {
        nextRelayCheck = clock.monotonic() + settings.smtp.retryInterval
        if result.succeeded {
            if case .failing(let previous) = smtpStatus {
                logLater(LogEntry(.notice, .smtpRecovered,
                                  "SMTP relay \(settings.smtp.host) accepts mail again (it failed with: \(previous))",
                                  fields: [("OE_URL", relayAddress)]))
            }
            smtpStatus = .ok
        } else {
            if case .failing = smtpStatus {} else {
                logLater(LogEntry(.warning, .smtpFailing, "SMTP relay \(relayAddress) failing: \(result.error)",
                                  fields: [("OE_URL", relayAddress), ("OE_ERROR", result.error)]
                                    + (result.status > 0 ? [("OE_SMTP_STATUS", String(result.status))] : [])))
            }
            smtpStatus = .failing(result.error.hasPrefix("SMTP: ") ? String(result.error.dropFirst(6)) : result.error)
        }
    }

    var relayAddress: String {
        "\(settings.smtp.encryption == .tls ? "smtps" : "smtp")://\(settings.smtp.host):\(settings.smtp.effectivePort)"
    }

    // MARK: Periodic work

    func housekeeping(_ now: Millis) {
        spoolHousekeeping(now)
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled else { continue }
            reportOverflow(recipient, slot: slot)
        }
    }

    /// Overflow drops are summarised, at most one entry per recipient per housekeeping turn.
    func reportOverflow(_ recipient: Recipient, slot: Int) {
        let dropped = queue.slot(slot).droppedOverflow
        guard dropped > recipient.overflowLogged else { return }
        let count = Int(dropped - recipient.overflowLogged)
        recipient.overflowLogged = dropped
        let action = settings.queueOverflow == .dropOldest ? "evicted to make room" : "refused"
        logLater(LogEntry(.warning, .queueOverflow,
                          "queue full: \(Self.count(count, "event")) for recipient \(Values.quote(recipient.name))"
                              + " \(action) (queue.capacity \(settings.queueCapacity) bytes,"
                              + " queue.overflow \(settings.queueOverflow.rawValue)); \(dropped) in all",
                          fields: recipient.logFields))
    }

    /// How long the loop may sleep: until the earliest retry, the next periodic work, the next
    /// relay check, or the close deadline.
    func nextWake(_ now: Millis) -> Millis {
        var wake = Self.housekeepingInterval - (now - lastHousekeeping)
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled, let retry = recipient.delivery.retryTime,
                  queue.slot(slot).hasPending else { continue }
            wake = min(wake, retry - now)
        }
        if !alertInFlight && !alerts.isEmpty && applied[Self.alertSlot] != nil {
            wake = min(wake, alertNextAttempt - now)
        }
        if relayCheckWaits { wake = min(wake, nextRelayCheck - now) }
        if closing { wake = min(wake, closeDeadline - now) }
        return max(0, wake)
    }

    // MARK: Closing

    func readyToStop(_ now: Millis) -> Bool {
        if !settings.queueSpool.isEmpty { return true }
        return !hasPending() || now >= closeDeadline
    }

    /// Cancels what is in flight and logs what is lost (nothing with a spool: it stays there).
    func finishClosing(_ now: Millis) {
        var lost: [(name: String, count: Int)] = []
        for slot in applied.indices where applied[slot] != nil {
            transport.release(slot: slot)
            applied[slot] = nil
        }
        for slot in slots.indices {
            guard let recipient = slots[slot], recipient.enabled else { continue }
            drive(recipient, slot: slot, .closing, now: now)
            let count = queue.slot(slot).queued
            if count > 0 && settings.queueSpool.isEmpty { lost.append((recipient.name, count)) }
        }
        lock.broadcast()
        guard !lost.isEmpty else { return }
        let total = lost.reduce(0) { $0 + $1.count }
        let detail = lost.map { "\($0.name): \($0.count)" }.joined(separator: ", ")
        logLater(LogEntry(.error, .eventsLostAtShutdown,
                          "closing after shutdown_timeout: \(Self.count(total, "undelivered event")) lost"
                              + " (no queue.spool) — \(detail)",
                          fields: [("OE_LOST_EVENTS", String(total))]))
    }

    // MARK: Log entries

    /// The journal entries for something a recipient's machine reports: one, or one per
    /// refused address.
    func entries(_ kind: RecipientDelivery.LogKind, recipient: Recipient, slot: Int) -> [LogEntry] {
        let name = Values.quote(recipient.name)
        let delivery = recipient.delivery
        switch kind {
        case .failing(let result):
            let id: MessageID = result.failure == .tls ? .tlsVerificationFailed : .recipientFailing
            let what = result.failure == .tls && recipient.http != nil
                ? "TLS with \(recipient.http?.url?.redacted ?? "") failed" : "failing"
            return [LogEntry(.warning, id,
                            "recipient \(name) \(what): \(result.error)"
                                + " (event \(recipient.currentEventName) \(recipient.currentEventID),"
                                + " attempt \(delivery.attempts)); retrying every"
                                + " \(Self.duration(delivery.policy.retryInterval)),"
                                + " \(Self.count(queue.slot(slot).queued, "event")) queued",
                            fields: eventFields(recipient, result: result))]
        case .stillFailing:
            let streak = delivery.streak
            return [LogEntry(.notice, .recipientStillFailing,
                            "recipient \(name) still failing after"
                                + " \(Self.duration(clock.monotonic() - (streak?.since ?? 0))):"
                                + " \(Self.count(streak?.failedAttempts ?? 0, "failed attempt")),"
                                + " \(Self.count(queue.slot(slot).queued, "event")) queued,"
                                + " \(streak?.dropped ?? 0) dropped; last error: \(streak?.lastError ?? "")",
                            fields: recipient.logFields
                                + [("OE_ERROR", streak?.lastError ?? ""), ("OE_ATTEMPT", String(delivery.attempts))])]
        case .expired(let result, let attempts, let failingFor):
            var fields = eventFields(recipient, result: result)
            fields.removeAll { $0.name == "OE_ATTEMPT" }
            fields.append(("OE_ATTEMPT", String(attempts)))
            return [LogEntry(.warning, recipient.email != nil ? .emailDropped : .eventExpired,
                            "recipient \(name) dropped event \(recipient.currentEventName) \(recipient.currentEventID)"
                                + " after \(Self.count(attempts, "attempt")) over \(Self.duration(failingFor))"
                                + " (retry_duration \(Self.duration(delivery.policy.retryDuration)));"
                                + " last error: \(result.error)",
                            fields: fields)]
        case .recovered(let after, let failedAttempts, let dropped):
            return [LogEntry(.notice, .recipientRecovered,
                            "recipient \(name) recovered after \(Self.duration(after))"
                                + " and \(Self.count(failedAttempts, "failed attempt"))"
                                + " (\(Self.count(dropped, "event")) dropped meanwhile)",
                            fields: recipient.logFields
                                + [("OE_EVENT", recipient.currentEventName), ("OE_EVENT_ID", recipient.currentEventID)]
                                + (delivery.lastStatus.map {
                                    [(recipient.http != nil ? "OE_HTTP_STATUS" : "OE_SMTP_STATUS", String($0))]
                                } ?? []))]
        case .addressesRefused(let refused):
            return refused.map {
                refusedEntry($0, recipient: recipient.name,
                             what: "email for event \(recipient.currentEventName) \(recipient.currentEventID)")
            }
        }
    }

    /// An address the relay refused while it took the email for the others: never counted as
    /// delivered to it, never silent.
    func refusedEntry(_ refusal: RefusedAddress, recipient: String, what: String) -> LogEntry {
        LogEntry(.warning, .addressRefused,
                 "recipient \(Values.quote(recipient)): the relay refused \(refusal.address) for the \(what)"
                     + " (the other addresses got it): \(refusal.reply)",
                 fields: [("OE_RECIPIENT", recipient), ("OE_ADDRESS", refusal.address), ("OE_ERROR", refusal.reply)])
    }

    func eventFields(_ recipient: Recipient, result: DeliveryResult) -> [(name: String, value: String)] {
        var fields = recipient.logFields + [
            ("OE_EVENT", recipient.currentEventName),
            ("OE_EVENT_ID", recipient.currentEventID),
            ("OE_ATTEMPT", String(recipient.delivery.attempts)),
            ("OE_ERROR", result.error),
        ]
        if result.status > 0 {
            fields.append((recipient.http != nil ? "OE_HTTP_STATUS" : "OE_SMTP_STATUS", String(result.status)))
        }
        return fields
    }

    /// "1 event", "3 events".
    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    /// "45s", "12m", "3h 5m", "2d 4h": durations as a person reads them in a log line.
    static func duration(_ millis: Millis) -> String {
        if millis < 1000 { return "\(max(0, millis))ms" }
        let seconds = millis / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86_400 {
            return seconds % 3600 / 60 == 0 ? "\(seconds / 3600)h" : "\(seconds / 3600)h \(seconds % 3600 / 60)m"
        }
        return seconds % 86_400 / 3600 == 0
            ? "\(seconds / 86_400)d" : "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
    }
}

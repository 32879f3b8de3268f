import Glibc
import OutboundEventsCore
import TLSMaterial

/// The delivery loop: one thread, one libcurl multi handle, every recipient and the mail relay.
/// Each turn applies configuration changes to the transport, starts the head-of-line event of
/// every recipient that is due, does the periodic work (alerts, summaries, overflow reports,
/// status file), then waits for transfers to finish, a retry to fall due, or an emit to wake it.
extension Agent {
    /// Longest sleep of the loop: periodic work runs at least this often.
    static let housekeepingInterval: Millis = 1000
    /// How often `status.path` is rewritten.
    static let statusInterval: Millis = 2000

    func startThread() -> Bool {
        // The delivery thread takes no signals: the firmware's own threads handle them.
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let started = pthread_create(&handle, nil, { context in
            let agent = Unmanaged<Agent>.fromOpaque(context!).takeRetainedValue()
            while agent.turn(maxWait: Agent.housekeepingInterval) {}
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Agent>.fromOpaque(context).release()
            return false
        }
        thread = handle
        return true
    }

    /// One turn of the loop. Returns false once the agent has finished closing.
    public func turn(maxWait: Millis) -> Bool {
        var wait = maxWait
        var statusText: String?
        var statusPath = ""
        var webhooks: [PendingWebhook] = []
        let running: Bool = lock.withLock {
            let now = clock.monotonic()
            statusPath = settings.statusPath
            if closing && readyToStop(now) {
                finishClosing()
                if !statusPath.isEmpty { statusText = statusJSON() }
                return false
            }
            if appliedGeneration != configGeneration {
                appliedGeneration = configGeneration
                reconcileTransport(now)
            }
            webhooks = startDue(now)
            if now - lastHousekeeping >= Self.housekeepingInterval || closing {
                lastHousekeeping = now
                housekeeping(now)
            }
            if !statusPath.isEmpty && now - lastStatusWrite >= Self.statusInterval {
                lastStatusWrite = now
                statusText = statusJSON()
            }
            wait = min(wait, nextWake(now))
            return true
        }
        for webhook in webhooks { send(webhook) }
        if let statusText { Files.writeAtomically(statusPath, statusText + "\n") }
        guard running else { return false }
        var results: [(slot: Int, result: DeliveryResult)] = []
        transport.poll(timeout: wait) { results.append(($0, $1)) }
        if !results.isEmpty {
            lock.withLock {
                for (slot, result) in results {
                    switch slot {
                    case Self.alertSlot: applyAlert(result)
                    case Self.relayCheckSlot: applyRelayCheck(result)
                    default: apply(result, slot: slot)
                    }
                }
                if flushWaiters > 0 && !hasPending() { lock.broadcast() }
            }
        }
        return true
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
            if slot == Self.alertSlot || slot == Self.relayCheckSlot {
                desired = smtpTarget().map { (nil, $0) }
            } else {
                desired = slots[slot].flatMap { recipient in target(for: recipient).map { (recipient, $0) } }
            }
            let current = applied[slot]
            if current?.recipient === desired?.recipient && current?.target == desired?.target { continue }
            if let current {
                transport.cancel(slot: slot)
                if slot == Self.relayCheckSlot {
                    relayCheckInFlight = false
                    nextRelayCheck = now
                } else if slot == Self.alertSlot {
                    alertInFlight = false
                    alertNextAttempt = now
                } else if let recipient = current.recipient, recipient === slots[slot] {
                    if recipient.inFlight {
                        queue.cancelDelivery(slot)
                        recipient.inFlight = false
                    }
                    recipient.nextAttempt = now
                }
            }
            if let desired {
                transport.configure(slot: slot, target: desired.target)
            } else if current != nil {
                transport.release(slot: slot)
            }
            applied[slot] = desired
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

    /// How often a recipient retries: its own interval for webhooks, the relay's for email.
    func retryInterval(_ recipient: Recipient) -> Millis {
        recipient.http?.retryInterval ?? settings.smtp.retryInterval
    }

    /// Whether the transport can serve the slot's recipient now (an email recipient waits while
    /// no relay is configured).
    func ready(_ slot: Int, _ recipient: Recipient) -> Bool {
        applied[slot]?.recipient === recipient
    }

    // MARK: Sending

    /// A webhook to start once the lock is released: its event is copied out of the ring, so
    /// encoding and signing never hold up an `oe_emit`.
    struct PendingWebhook {
        let slot: Int
        let recipient: Recipient
        let id: String
        let customFields: Bool
        let format: BodyFormat
        let signingKeys: [Secret]
        let wire: WireFormat
    }

    /// Starts the head-of-line event of every recipient that is due and has none in flight,
    /// and the oldest alert email. With the lock held; webhooks are returned, to be encoded and
    /// sent by `send` after it is released.
    func startDue(_ now: Millis) -> [PendingWebhook] {
        var webhooks: [PendingWebhook] = []
        for slot in slots.indices {
            guard let recipient = slots[slot], recipient.enabled, !recipient.inFlight else { continue }
            guard queue.slots[slot].hasPending else {
                idleMask |= 1 << UInt64(slot)
                continue
            }
            if closing && !settings.queueSpool.isEmpty { continue }
            guard ready(slot, recipient) else {
                if recipient.email != nil && recipient.lastError == nil {
                    recipient.lastError = "waiting: no SMTP relay is configured (smtp.host)"
                }
                continue
            }
            guard recipient.nextAttempt <= now, let event = queue.beginDelivery(slot) else { continue }
            let id = wire.eventID(seq: event.seq)
            recipient.currentEventID = id
            recipient.currentEventName = event.nameString
            recipient.inFlight = true
            recipient.attempts += 1
            if recipient.firstAttempt == nil { recipient.firstAttempt = now }
            if let http = recipient.http {
                recipient.record.removeAll(keepingCapacity: true)
                recipient.record.append(contentsOf: event.bytes)
                webhooks.append(PendingWebhook(slot: slot, recipient: recipient, id: id, customFields: http.sendCustomFields,
                                               format: http.bodyFormat, signingKeys: http.signingKeys, wire: wire))
            } else if let email = recipient.email {
                transport.start(slot: slot, mail: eventMail(event, id: id, slot: slot, settings: email))
            }
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
        return webhooks
    }

    /// Encodes, signs and starts a webhook, on the delivery thread without the lock: only this
    /// thread touches a recipient's buffers, and a recipient removed meanwhile has its transfer
    /// cancelled at the next turn.
    func send(_ webhook: PendingWebhook) {
        let recipient = webhook.recipient
        recipient.record.withUnsafeBytes { record in
            switch webhook.format {
            case .form: webhook.wire.body(of: EventView(record), customFields: webhook.customFields, into: &recipient.body)
            case .json: webhook.wire.jsonBody(of: EventView(record), customFields: webhook.customFields, into: &recipient.body)
            }
        }
        let attemptTime = clock.unixSeconds()
        var headers = [
            "Content-Type: \(webhook.format.contentType)",
            "webhook-id: \(webhook.id)",
            "webhook-timestamp: \(attemptTime)",
        ]
        if !webhook.signingKeys.isEmpty {
            WireFormat.signingInput(id: webhook.id, timestamp: attemptTime, body: recipient.body, into: &recipient.signingInput)
            // One signature per secret while secrets rotate: the receiver accepts any of them.
            let signatures = webhook.signingKeys.map { key in
                "v1," + HMACSHA256.base64Signature(key: key.unredactedBytes, message: recipient.signingInput)
            }
            headers.append("webhook-signature: \(signatures.joined(separator: " "))")
        }
        transport.start(slot: webhook.slot, body: recipient.body, headers: headers)
    }

    // MARK: Outcomes

    /// Applies the end of one attempt (SPEC 2): success moves the recipient on; anything else
    /// keeps the event at the head of line and retries it every interval until the retry
    /// duration runs out, then drops it and moves on.
    func apply(_ result: DeliveryResult, slot: Int) {
        guard let recipient = slots[slot], recipient.inFlight, recipient.enabled, ready(slot, recipient) else { return }
        recipient.inFlight = false
        let now = clock.monotonic()
        if recipient.http != nil {
            recipient.lastHTTPStatus = result.status > 0 ? result.status : nil
        } else {
            mailResults += 1
            noteRelay(result)
        }
        spoolDirty = true
        if result.succeeded {
            queue.finishDelivery(slot, .delivered)
            recipient.delivered += 1
            recipient.refusedAddresses += UInt64(result.refusedAddresses.count)
            logRefused(result.refusedAddresses, recipient: recipient.name,
                       what: "email for event \(recipient.currentEventName) \(recipient.currentEventID)")
            if recipient.failingSince != nil { recovered(recipient, now: now) }
            recipient.clearFailure()
            recipient.resetDelivery(now: now)
            return
        }
        recipient.lastError = result.error
        recipient.attemptsWhileFailing += 1
        if recipient.failingSince == nil {
            recipient.failingSince = clock.unixSeconds()
            recipient.failingSinceMonotonic = now
            recipient.lastSummary = now
            logFailing(recipient, slot: slot, result: result)
        }
        let interval = retryInterval(recipient)
        let decision = RetrySchedule.afterFailure(firstAttempt: recipient.firstAttempt ?? now, now: now,
                                                  interval: interval, duration: recipient.retryDuration)
        switch queue.finishDelivery(slot, decision == .drop ? .expired : .failed) {
        case .evicted:
            recipient.firstAttempt = nil
            recipient.attempts = 0
            recipient.nextAttempt = now + interval
        case .removed:
            recipient.droppedExpired += 1
            recipient.droppedWhileFailing += 1
            logExpired(recipient, slot: slot, result: result, now: now)
            recipient.firstAttempt = nil
            recipient.attempts = 0
            recipient.nextAttempt = now
        case .retained:
            if case .retry(let at) = decision { recipient.nextAttempt = at }
        }
    }

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
            logRefused(result.refusedAddresses, recipient: alert.recipient, what: "alert email")
            log(LogEntry(.info, .alertSent, "alert email sent to \(alert.envelope.recipients.joined(separator: ", ")): \(alert.subject)",
                         fields: [("OE_RECIPIENT", alert.recipient)]))
            alertNextAttempt = now
        } else if now - alert.queuedAt >= Self.alertLifetime {
            alerts.removeFirst()
            log(LogEntry(.warning, .emailDropped, "alert email dropped after \(Self.duration(Self.alertLifetime)) of failed attempts: \(alert.subject); last error: \(result.error)",
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
        !closing && !relayCheckInFlight && applied[Self.relayCheckSlot] != nil && nextRelayCheck <= now && !mailWaiting()
    }

    func mailWaiting() -> Bool {
        if alertInFlight || !alerts.isEmpty { return true }
        return slots.indices.contains { slot in
            guard let recipient = slots[slot], recipient.email != nil, recipient.enabled else { return false }
            return recipient.inFlight || queue.slots[slot].hasPending
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
                log(LogEntry(.notice, .smtpRecovered, "SMTP relay \(settings.smtp.host) accepts mail again (it failed with: \(previous))",
                             fields: [("OE_URL", relayAddress)]))
            }
            smtpStatus = .ok
        } else {
            if case .failing = smtpStatus {} else {
                log(LogEntry(.warning, .smtpFailing, "SMTP relay \(relayAddress) failing: \(result.error)",
                             fields: [("OE_URL", relayAddress), ("OE_ERROR", result.error)]
                                + (result.status > 0 ? [("OE_SMTP_STATUS", String(result.status))] : [])))
            }
            smtpStatus = .failing(result.error.hasPrefix("SMTP: ") ? String(result.error.dropFirst(6)) : result.error)
        }
    }

    /// One entry per address the relay refused while it took the email for the others: never
    /// counted as delivered to it, never silent.
    func logRefused(_ refused: [RefusedAddress], recipient: String, what: String) {
        for refusal in refused {
            log(LogEntry(.warning, .addressRefused,
                         "recipient \(Values.quote(recipient)): the relay refused \(refusal.address) for the \(what) (the other addresses got it): \(refusal.reply)",
                         fields: [("OE_RECIPIENT", recipient), ("OE_ADDRESS", refusal.address), ("OE_ERROR", refusal.reply)]))
        }
    }

    var relayAddress: String { "\(settings.smtp.encryption == .tls ? "smtps" : "smtp")://\(settings.smtp.host):\(settings.smtp.effectivePort)" }

    func recovered(_ recipient: Recipient, now: Millis) {
        logRecovery(recipient, now: now)
        if recipient.alerted { queueRecoveryAlert(recipient, now: now) }
    }

    // MARK: Periodic work

    func housekeeping(_ now: Millis) {
        spoolHousekeeping(now)
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled else { continue }
            reportOverflow(recipient, slot: slot)
            guard let since = recipient.failingSinceMonotonic else { continue }
            if RetrySchedule.summaryDue(lastSummary: recipient.lastSummary, now: now) {
                recipient.lastSummary = now
                log(LogEntry(.notice, .recipientStillFailing,
                             "recipient \(Values.quote(recipient.name)) still failing after \(Self.duration(now - since)): \(Self.count(recipient.attemptsWhileFailing, "failed attempt")), \(Self.count(queue.slots[slot].queued, "event")) queued, \(recipient.droppedWhileFailing) dropped; last error: \(recipient.lastError ?? "")",
                             fields: recipient.logFields + [("OE_ERROR", recipient.lastError ?? ""),
                                                            ("OE_ATTEMPT", String(recipient.attempts))]))
            }
            if let http = recipient.http, !http.emailContacts.isEmpty,
               RetrySchedule.alertDue(failingSince: since, lastAlert: recipient.lastAlert, now: now,
                                      after: http.emailAlertAfter, resend: http.emailAlertResend) {
                recipient.lastAlert = now
                recipient.alerted = true
                queueFailureAlert(recipient, slot: slot, now: now)
            }
        }
    }

    /// Overflow drops are summarised, at most one entry per recipient per housekeeping turn.
    func reportOverflow(_ recipient: Recipient, slot: Int) {
        let dropped = queue.slots[slot].droppedOverflow
        guard dropped > recipient.overflowLogged else { return }
        let count = Int(dropped - recipient.overflowLogged)
        recipient.overflowLogged = dropped
        let action = settings.queueOverflow == .dropOldest ? "evicted to make room" : "refused"
        log(LogEntry(.warning, .queueOverflow,
                     "queue full: \(Self.count(count, "event")) for recipient \(Values.quote(recipient.name)) \(action) (queue.capacity \(settings.queueCapacity) bytes, queue.overflow \(settings.queueOverflow.rawValue)); \(dropped) in all",
                     fields: recipient.logFields))
    }

    /// How long the loop may sleep: until the earliest retry, the next periodic work, or the
    /// close deadline.
    func nextWake(_ now: Millis) -> Millis {
        var wake = Self.housekeepingInterval - (now - lastHousekeeping)
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled, !recipient.inFlight, queue.slots[slot].hasPending,
                  ready(slot, recipient) else { continue }
            wake = min(wake, recipient.nextAttempt - now)
        }
        if !alertInFlight && !alerts.isEmpty && applied[Self.alertSlot] != nil {
            wake = min(wake, alertNextAttempt - now)
        }
        if !closing && !relayCheckInFlight && applied[Self.relayCheckSlot] != nil && !mailWaiting() {
            wake = min(wake, nextRelayCheck - now)
        }
        if closing { wake = min(wake, closeDeadline - now) }
        return max(0, wake)
    }

    // MARK: Closing

    func readyToStop(_ now: Millis) -> Bool {
        if !settings.queueSpool.isEmpty { return true }
        return !hasPending() || now >= closeDeadline
    }

    /// Cancels what is in flight and logs what is lost (nothing with a spool: it stays there).
    func finishClosing() {
        var lost: [(name: String, count: Int)] = []
        for slot in applied.indices where applied[slot] != nil {
            transport.release(slot: slot)
            applied[slot] = nil
        }
        for slot in slots.indices {
            guard let recipient = slots[slot], recipient.enabled else { continue }
            if recipient.inFlight {
                queue.cancelDelivery(slot)
                recipient.inFlight = false
            }
            let count = queue.slots[slot].queued
            if count > 0 && settings.queueSpool.isEmpty { lost.append((recipient.name, count)) }
        }
        spool?.close()
        lock.broadcast()
        guard !lost.isEmpty else { return }
        let total = lost.reduce(0) { $0 + $1.count }
        let detail = lost.map { "\($0.name): \($0.count)" }.joined(separator: ", ")
        log(LogEntry(.error, .eventsLostAtShutdown,
                     "closing after shutdown_timeout: \(Self.count(total, "undelivered event")) lost (no queue.spool) — \(detail)",
                     fields: [("OE_LOST_EVENTS", String(total))]))
    }

    // MARK: Log entries

    func logFailing(_ recipient: Recipient, slot: Int, result: DeliveryResult) {
        let id: MessageID = result.failure == .tls ? .tlsVerificationFailed : .recipientFailing
        let what = result.failure == .tls && recipient.http != nil
            ? "TLS with \(recipient.http?.url?.redacted ?? "") failed" : "failing"
        log(LogEntry(.warning, id,
                     "recipient \(Values.quote(recipient.name)) \(what): \(result.error) (event \(recipient.currentEventName) \(recipient.currentEventID), attempt \(recipient.attempts)); retrying every \(Self.duration(retryInterval(recipient))), \(Self.count(queue.slots[slot].queued, "event")) queued",
                     fields: eventFields(recipient, result: result)))
    }

    func logExpired(_ recipient: Recipient, slot: Int, result: DeliveryResult, now: Millis) {
        let failingFor = Self.duration(now - (recipient.firstAttempt ?? now))
        log(LogEntry(.warning, recipient.email != nil ? .emailDropped : .eventExpired,
                     "recipient \(Values.quote(recipient.name)) dropped event \(recipient.currentEventName) \(recipient.currentEventID) after \(Self.count(recipient.attempts, "attempt")) over \(failingFor) (retry_duration \(Self.duration(recipient.retryDuration))); last error: \(result.error)",
                     fields: eventFields(recipient, result: result)))
    }

    func logRecovery(_ recipient: Recipient, now: Millis) {
        let after = Self.duration(now - (recipient.failingSinceMonotonic ?? now))
        log(LogEntry(.notice, .recipientRecovered,
                     "recipient \(Values.quote(recipient.name)) recovered after \(after) and \(Self.count(recipient.attemptsWhileFailing, "failed attempt")) (\(Self.count(recipient.droppedWhileFailing, "event")) dropped meanwhile)",
                     fields: recipient.logFields + [("OE_EVENT", recipient.currentEventName),
                                                    ("OE_EVENT_ID", recipient.currentEventID)]
                        + (recipient.lastHTTPStatus.map { [("OE_HTTP_STATUS", String($0))] } ?? [])))
    }

    func eventFields(_ recipient: Recipient, result: DeliveryResult) -> [(name: String, value: String)] {
        var fields = recipient.logFields + [
            ("OE_EVENT", recipient.currentEventName),
            ("OE_EVENT_ID", recipient.currentEventID),
            ("OE_ATTEMPT", String(recipient.attempts)),
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
        if seconds < 86_400 { return seconds % 3600 / 60 == 0 ? "\(seconds / 3600)h" : "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        return seconds % 86_400 / 3600 == 0 ? "\(seconds / 86_400)d" : "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
    }
}

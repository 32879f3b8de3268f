import Glibc
import OutboundEventsCore
import TLSMaterial

/// The delivery loop: one thread, one libcurl multi handle, every recipient. Each turn applies
/// configuration changes to the transport, starts the head-of-line event of every recipient
/// that is due, does the periodic work (summaries, overflow reports, status file), then waits
/// for transfers to finish, a retry to fall due, or an emit to wake it.
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
        let running: Bool = lock.withLock {
            let now = clock.monotonic()
            if closing && readyToStop(now) {
                finishClosing()
                if !settings.statusPath.isEmpty { statusText = statusJSON() }
                return false
            }
            reconcileTransport(now)
            startDue(now)
            if now - lastHousekeeping >= Self.housekeepingInterval || closing {
                lastHousekeeping = now
                housekeeping(now)
            }
            if !settings.statusPath.isEmpty && now - lastStatusWrite >= Self.statusInterval {
                lastStatusWrite = now
                statusText = statusJSON()
            }
            wait = min(wait, nextWake(now))
            return true
        }
        if let statusText { writeStatusFile(statusText) }
        guard running else { return false }
        var results: [(slot: Int, result: DeliveryResult)] = []
        transport.poll(timeout: wait) { results.append(($0, $1)) }
        if !results.isEmpty {
            lock.withLock {
                for (slot, result) in results { apply(result, slot: slot) }
                lock.broadcast()
            }
        }
        return true
    }

    // MARK: Transport configuration

    /// Brings the transport in line with the recipients: a new, edited or re-enabled recipient
    /// gets its handle configured, a removed or disabled one released. An edit that changes
    /// where or how events go cancels the attempt in flight, and the head-of-line event is sent
    /// again at once with the new settings, even if it was waiting for its retry interval.
    func reconcileTransport(_ now: Millis) {
        for slot in slots.indices {
            let desired = slots[slot].flatMap { recipient in
                target(for: recipient).map { (recipient: recipient, target: $0) }
            }
            let current = applied[slot]
            if current?.recipient === desired?.recipient && current?.target == desired?.target { continue }
            if let current {
                transport.cancel(slot: slot)
                if current.recipient === slots[slot] {
                    // Edited: whatever waited for a retry goes now, to the new target.
                    if current.recipient.inFlight {
                        queue.cancelDelivery(slot)
                        current.recipient.inFlight = false
                    }
                    current.recipient.nextAttempt = now
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

    func target(for recipient: Recipient) -> HTTPTarget? {
        guard let http = recipient.http, recipient.enabled, let url = http.url else { return nil }
        return HTTPTarget(url: url.text, caCertificate: http.caCertificate,
                          connectTimeout: settings.connectTimeout, requestTimeout: settings.requestTimeout,
                          userAgent: "outbound-events/\(environment.version)")
    }

    // MARK: Sending

    /// Starts the head-of-line event of every recipient that is due and has none in flight.
    func startDue(_ now: Millis) {
        for slot in slots.indices {
            guard let recipient = slots[slot], recipient.enabled, let http = recipient.http,
                  applied[slot]?.recipient === recipient else { continue }
            guard !recipient.inFlight else { continue }
            guard queue.slots[slot].hasPending else {
                idleMask |= 1 << UInt64(slot)
                continue
            }
            if closing && !settings.queueSpool.isEmpty { continue }
            guard recipient.nextAttempt <= now, let event = queue.beginDelivery(slot) else { continue }
            wire.body(of: event, customFields: http.sendCustomFields, into: &recipient.body)
            let id = wire.eventID(seq: event.seq)
            let attemptTime = clock.unixSeconds()
            var headers = [
                "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                "webhook-id: \(id)",
                "webhook-timestamp: \(attemptTime)",
            ]
            if !http.signingKey.isEmpty {
                WireFormat.signingInput(id: id, timestamp: attemptTime, body: recipient.body, into: &recipient.signingInput)
                let signature = HMACSHA256.base64Signature(key: http.signingKey, message: recipient.signingInput)
                headers.append("webhook-signature: v1,\(signature)")
            }
            recipient.currentEventID = id
            recipient.currentEventName = event.nameString
            recipient.inFlight = true
            recipient.attempts += 1
            if recipient.firstAttempt == nil { recipient.firstAttempt = now }
            transport.start(slot: slot, body: recipient.body, headers: headers)
        }
    }

    // MARK: Outcomes

    /// Applies the end of one attempt (SPEC 2): a 200 moves the recipient on; anything else
    /// keeps the event at the head of line and retries it every interval until the retry
    /// duration runs out, then drops it and moves on.
    func apply(_ result: DeliveryResult, slot: Int) {
        guard let recipient = slots[slot], recipient.inFlight, recipient.enabled,
              applied[slot]?.recipient === recipient else { return }
        recipient.inFlight = false
        let now = clock.monotonic()
        recipient.lastHTTPStatus = result.status > 0 ? result.status : nil
        if result.succeeded {
            queue.finishDelivery(slot, .delivered)
            recipient.delivered += 1
            if recipient.failingSince != nil { logRecovery(recipient, now: now) }
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
        let decision = RetrySchedule.afterFailure(firstAttempt: recipient.firstAttempt ?? now, now: now,
                                                  interval: recipient.retryInterval,
                                                  duration: recipient.retryDuration)
        switch queue.finishDelivery(slot, decision == .drop ? .expired : .failed) {
        case .evicted:
            recipient.firstAttempt = nil
            recipient.attempts = 0
            recipient.nextAttempt = now + recipient.retryInterval
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

    // MARK: Periodic work

    func housekeeping(_ now: Millis) {
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled else { continue }
            reportOverflow(recipient, slot: slot)
            if let since = recipient.failingSinceMonotonic,
               RetrySchedule.summaryDue(lastSummary: recipient.lastSummary, now: now) {
                recipient.lastSummary = now
                log(LogEntry(.notice, .recipientStillFailing,
                             "recipient \(Values.quote(recipient.name)) still failing after \(Self.duration(now - since)): \(recipient.attemptsWhileFailing) failed attempts, \(queue.slots[slot].queued) events queued, \(recipient.droppedWhileFailing) dropped; last error: \(recipient.lastError ?? "")",
                             fields: recipient.logFields + [("OE_ERROR", recipient.lastError ?? ""),
                                                            ("OE_ATTEMPT", String(recipient.attempts))]))
            }
        }
    }

    /// Overflow drops are summarised, at most one entry per recipient per housekeeping turn.
    func reportOverflow(_ recipient: Recipient, slot: Int) {
        let dropped = queue.slots[slot].droppedOverflow
        guard dropped > recipient.overflowLogged else { return }
        let count = dropped - recipient.overflowLogged
        recipient.overflowLogged = dropped
        let action = settings.queueOverflow == .dropOldest ? "evicted to make room" : "refused"
        log(LogEntry(.warning, .queueOverflow,
                     "queue full: \(count) event\(count == 1 ? "" : "s") for recipient \(Values.quote(recipient.name)) \(action) (queue.capacity \(settings.queueCapacity) bytes, queue.overflow \(settings.queueOverflow.rawValue)); \(dropped) in all",
                     fields: recipient.logFields))
    }

    /// How long the loop may sleep: until the earliest retry, the next periodic work, or the
    /// close deadline.
    func nextWake(_ now: Millis) -> Millis {
        var wake = Self.housekeepingInterval - (now - lastHousekeeping)
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled, !recipient.inFlight, queue.slots[slot].hasPending else { continue }
            wake = min(wake, recipient.nextAttempt - now)
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
        for slot in slots.indices {
            if applied[slot] != nil {
                transport.release(slot: slot)
                applied[slot] = nil
            }
            guard let recipient = slots[slot], recipient.enabled else { continue }
            if recipient.inFlight {
                queue.cancelDelivery(slot)
                recipient.inFlight = false
            }
            let count = queue.slots[slot].queued
            if count > 0 && settings.queueSpool.isEmpty { lost.append((recipient.name, count)) }
        }
        finished = true
        lock.broadcast()
        guard !lost.isEmpty else { return }
        let total = lost.reduce(0) { $0 + $1.count }
        let detail = lost.map { "\($0.name): \($0.count)" }.joined(separator: ", ")
        log(LogEntry(.error, .eventsLostAtShutdown,
                     "closing after shutdown_timeout: \(total) undelivered event\(total == 1 ? "" : "s") lost (no queue.spool) — \(detail)",
                     fields: [("OE_LOST_EVENTS", String(total))]))
    }

    // MARK: Log entries

    func logFailing(_ recipient: Recipient, slot: Int, result: DeliveryResult) {
        let id: MessageID = result.failure == .tls ? .tlsVerificationFailed : .recipientFailing
        let what = result.failure == .tls ? "TLS with \(recipient.http?.url?.redacted ?? "") failed" : "failing"
        log(LogEntry(.warning, id,
                     "recipient \(Values.quote(recipient.name)) \(what): \(result.error) (event \(recipient.currentEventName) \(recipient.currentEventID), attempt \(recipient.attempts)); retrying every \(Self.duration(recipient.retryInterval)), \(queue.slots[slot].queued) events queued",
                     fields: eventFields(recipient, result: result)))
    }

    func logExpired(_ recipient: Recipient, slot: Int, result: DeliveryResult, now: Millis) {
        let failingFor = Self.duration(now - (recipient.firstAttempt ?? now))
        log(LogEntry(.warning, .eventExpired,
                     "recipient \(Values.quote(recipient.name)) dropped event \(recipient.currentEventName) \(recipient.currentEventID) after \(recipient.attempts) attempts over \(failingFor) (retry_duration \(Self.duration(recipient.retryDuration))); last error: \(result.error)",
                     fields: eventFields(recipient, result: result)))
    }

    func logRecovery(_ recipient: Recipient, now: Millis) {
        let after = Self.duration(now - (recipient.failingSinceMonotonic ?? now))
        log(LogEntry(.notice, .recipientRecovered,
                     "recipient \(Values.quote(recipient.name)) recovered after \(after) and \(Self.count(recipient.attemptsWhileFailing, "failed attempt")) (\(Self.count(recipient.droppedWhileFailing, "event")) dropped meanwhile)",
                     fields: recipient.logFields + [("OE_EVENT", recipient.currentEventName),
                                                    ("OE_EVENT_ID", recipient.currentEventID),
                                                    ("OE_HTTP_STATUS", "200")]))
    }

    func eventFields(_ recipient: Recipient, result: DeliveryResult) -> [(name: String, value: String)] {
        var fields = recipient.logFields + [
            ("OE_EVENT", recipient.currentEventName),
            ("OE_EVENT_ID", recipient.currentEventID),
            ("OE_ATTEMPT", String(recipient.attempts)),
            ("OE_ERROR", result.error),
        ]
        if result.status > 0 { fields.append(("OE_HTTP_STATUS", String(result.status))) }
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

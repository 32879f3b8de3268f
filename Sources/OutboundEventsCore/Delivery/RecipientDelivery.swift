/// One recipient's delivery, as SPEC section 2 promises it, as a value: the head-of-line
/// event's schedule (attempts, retry time, retry duration), the failure streak (since when, how
/// many failed attempts, what was dropped, journal summaries, alert emails) and the recipient's
/// counters. It changes only through `handle`, a pure function of (state, input, now) that
/// says what to do as actions; no transport, no queue, no clock, no threads.
///
/// The agent keeps one per recipient inside its lock, feeds it what happened, and carries out
/// the actions (most of them after unlocking). Every promise of SPEC 2 is tested on it
/// directly, table-driven (`RecipientDeliveryTests`).
public struct RecipientDelivery: Sendable, Equatable {
    /// What the recipient's settings say about delivery.
    public struct Policy: Sendable, Equatable {
        /// How long a failed event waits before it is tried again.
        public var retryInterval: Millis
        /// How long, from its first attempt, an event is tried before it is dropped.
        public var retryDuration: Millis
        /// Failure alerts (HTTP recipients with email contacts), nil for none.
        public var alerts: AlertPolicy?

        public init(retryInterval: Millis, retryDuration: Millis, alerts: AlertPolicy? = nil) {
            self.retryInterval = retryInterval
            self.retryDuration = retryDuration
            self.alerts = alerts
        }
    }

    public struct AlertPolicy: Sendable, Equatable {
        /// The first alert once the recipient has failed continuously this long.
        public var after: Millis
        /// Then one every `resend` while it keeps failing.
        public var resend: Millis

        public init(after: Millis, resend: Millis) {
            self.after = after
            self.resend = resend
        }
    }

    public enum Phase: Sendable, Equatable {
        /// The head-of-line event goes as soon as there is one.
        case ready
        /// The head-of-line event failed and waits for its retry time.
        case waiting(until: Millis)
        /// An attempt is in flight: one at a time, so nothing after it can overtake it.
        case sending
        /// No way to send yet (the transport is not set up for it, or an email recipient has
        /// no relay): events wait.
        case unrouted
        /// Disabled, removed or closed: nothing is sent.
        case stopped
    }

    /// A run of failures, from the first failed attempt to the next success.
    public struct Streak: Sendable, Equatable {
        /// When it began: monotonic, and Unix seconds for people.
        public var since: Millis
        public var sinceUnix: Int64
        public var failedAttempts = 0
        /// Events dropped after their retry duration during the streak.
        public var dropped = 0
        public var lastSummary: Millis
        /// Failure alerts follow a failing event: they count from the first failure of the
        /// stream (nil once the stream ended: the failing event was dropped with nothing queued
        /// behind it, until an event fails again).
        public var alertsSince: Millis?
        public var lastAlert: Millis?
        public var lastError: String
    }

    public struct Counters: Sendable, Equatable {
        public var delivered: UInt64 = 0
        public var droppedExpired: UInt64 = 0
        /// Addresses a relay refused while it took the email for the others.
        public var refusedAddresses: UInt64 = 0
    }

    public enum Input: Sendable, Equatable {
        /// The delivery loop's look at the queue, every turn: the sequence number of the
        /// recipient's head-of-line event, nil when it has none. This is how the machine learns
        /// that an event became available and that its retry timer fired.
        case tick(head: UInt64?)
        /// The attempt in flight ended. `headEvicted`: the queue evicted its event for room
        /// meanwhile (drop_oldest), so a failure moves on instead of retrying it.
        case finished(DeliveryResult, headEvicted: Bool, unixTime: Int64)
        /// The recipient's settings changed what delivery does.
        case policyChanged(Policy)
        /// The transport was set up anew for the recipient (a new URL, CA or relay), or can no
        /// longer carry it: an attempt in flight is abandoned, and the head-of-line event goes
        /// again at once with the new settings, even if it was waiting for its retry time.
        case routeChanged(available: Bool)
        case enabled
        case disabled
        case removed
        /// The agent stops: nothing starts any more, an attempt in flight is abandoned.
        case closing
    }

    public enum DiscardReason: String, Sendable, Equatable {
        case disabled, removed
    }

    public enum LogKind: Sendable, Equatable {
        /// The first failure of a streak.
        case failing(DeliveryResult)
        /// Every `summaryInterval` while the streak lasts.
        case stillFailing
        /// The head-of-line event was dropped after its retry duration.
        case expired(DeliveryResult, attempts: Int, failingFor: Millis)
        case recovered(after: Millis, failedAttempts: Int, dropped: Int)
        /// Delivered, but the relay refused these addresses.
        case addressesRefused([RefusedAddress])
    }

    public enum Action: Sendable, Equatable {
        /// Take the head-of-line event from the queue and send it.
        case startAttempt
        /// Forget the attempt in flight; its event stays at the head of line.
        case cancelAttempt
        /// End the in-flight event in the queue: delivered, failed (it stays at the head of
        /// line) or expired (dropped).
        case finishHead(EventQueue.Outcome)
        /// Discard every queued event of the recipient (counted and logged by the agent).
        case discardPending(DiscardReason)
        case log(LogKind)
        case sendFailureAlert
        /// The last alert of a stream: the failing event was dropped, and nothing is queued.
        case sendDroppedAlert
        case sendRecoveryAlert(failedFor: Millis, failedAttempts: Int, dropped: Int)
    }

    /// How often a failing recipient gets a summary line in the journal: a recipient failing
    /// for an hour gives one entry when it starts, a dozen summaries and one when it recovers.
    public static let summaryInterval: Millis = 5 * 60_000

    public private(set) var policy: Policy
    public private(set) var phase: Phase = .unrouted
    /// The head-of-line event being worked on, and its own schedule.
    public private(set) var head: UInt64?
    public private(set) var firstAttempt: Millis?
    public private(set) var attempts = 0
    public private(set) var streak: Streak?
    /// Whether a failure alert went out in the alert stream (a recovery email is owed).
    public private(set) var alerted = false
    /// The HTTP status or SMTP reply code of the last finished attempt, nil when none came.
    public private(set) var lastStatus: Int?
    public private(set) var counters = Counters()

    public init(policy: Policy) {
        self.policy = policy
    }

    public var isSending: Bool { phase == .sending }

    /// The time of the retry the machine waits for, if it waits for one.
    public var retryTime: Millis? {
        if case .waiting(let until) = phase { return until }
        return nil
    }

    /// Applies `input` at `now` and appends what to do to `actions`, in order.
    public mutating func handle(_ input: Input, now: Millis, into actions: inout [Action]) {
        switch input {
        case .tick(let head): tick(head: head, now: now, into: &actions)
        case .finished(let result, let evicted, let unixTime):
            finished(result, headEvicted: evicted, now: now, unixTime: unixTime, into: &actions)
        case .policyChanged(let policy): self.policy = policy
        case .routeChanged(let available):
            guard phase != .stopped else { return }
            if phase == .sending { actions.append(.cancelAttempt) }
            phase = available ? .ready : .unrouted
        case .enabled:
            guard phase == .stopped else { return }
            forgetHead()
            streak = nil
            alerted = false
            phase = .unrouted
        case .disabled, .removed:
            if phase == .sending { actions.append(.cancelAttempt) }
            if phase != .stopped { actions.append(.discardPending(input == .removed ? .removed : .disabled)) }
            forgetHead()
            streak = nil
            alerted = false
            phase = .stopped
        case .closing:
            if phase == .sending { actions.append(.cancelAttempt) }
            phase = .stopped
        }
    }

    /// `handle` for tests and one-off calls.
    public mutating func handle(_ input: Input, now: Millis) -> [Action] {
        var actions: [Action] = []
        handle(input, now: now, into: &actions)
        return actions
    }

    mutating func tick(head newHead: UInt64?, now: Millis, into actions: inout [Action]) {
        // The streak lasts until a success, also while nothing is queued: the receiver was
        // failing when last tried (the status and the journal's summaries say so). Its alerts
        // are about a failing event: once none is failing or queued, they end.
        if var streak, phase != .stopped {
            if now - streak.lastSummary >= Self.summaryInterval {
                streak.lastSummary = now
                actions.append(.log(.stillFailing))
            }
            if streak.alertsSince != nil && head == nil && newHead == nil {
                streak.alertsSince = nil
                streak.lastAlert = nil
                if alerted { actions.append(.sendDroppedAlert) }
                alerted = false
            }
            if let alerts = policy.alerts, let since = streak.alertsSince, now - since >= alerts.after,
               streak.lastAlert.map({ now - $0 >= alerts.resend }) ?? true {
                streak.lastAlert = now
                alerted = true
                actions.append(.sendFailureAlert)
            }
            self.streak = streak
        }
        switch phase {
        case .sending, .unrouted, .stopped: return
        case .ready, .waiting: break
        }
        if newHead != head {
            // Another event is at the head of line now (the last one was evicted for room):
            // its retry duration counts from its own first attempt. A retry time already set
            // still holds: the receiver was failing a moment ago.
            head = newHead
            firstAttempt = nil
            attempts = 0
        }
        guard newHead != nil else { return }
        if case .waiting(let until) = phase, now < until { return }
        phase = .sending
        attempts += 1
        if firstAttempt == nil { firstAttempt = now }
        actions.append(.startAttempt)
    }

    mutating func finished(_ result: DeliveryResult, headEvicted: Bool, now: Millis, unixTime: Int64,
                           into actions: inout [Action]) {
        // A result for an attempt that was abandoned (an edit, disabling) is not this one's.
        guard phase == .sending else { return }
        lastStatus = result.status > 0 ? result.status : nil
        if result.succeeded {
            actions.append(.finishHead(.delivered))
            counters.delivered += 1
            if !result.refusedAddresses.isEmpty {
                counters.refusedAddresses += UInt64(result.refusedAddresses.count)
                actions.append(.log(.addressesRefused(result.refusedAddresses)))
            }
            if let streak {
                actions.append(.log(.recovered(after: now - streak.since, failedAttempts: streak.failedAttempts,
                                               dropped: streak.dropped)))
                if alerted {
                    actions.append(.sendRecoveryAlert(failedFor: now - streak.since,
                                                      failedAttempts: streak.failedAttempts, dropped: streak.dropped))
                }
            }
            streak = nil
            alerted = false
            forgetHead()
            phase = .ready
            return
        }
        var streak = self.streak ?? Streak(since: now, sinceUnix: unixTime, lastSummary: now, lastError: result.error)
        if self.streak == nil { actions.append(.log(.failing(result))) }
        if streak.alertsSince == nil { streak.alertsSince = now }
        streak.failedAttempts += 1
        streak.lastError = result.error
        defer { self.streak = streak }
        let retryAt = now + policy.retryInterval
        if headEvicted {
            // The queue already dropped the event for room (and counts it): move on, after
            // the retry interval, since the receiver just failed.
            actions.append(.finishHead(.failed))
            forgetHead()
            phase = .waiting(until: retryAt)
        } else if retryAt - (firstAttempt ?? now) > policy.retryDuration {
            // The next try would start after the retry duration ran out: drop it now, not one
            // pointless interval later, and send the next event at once.
            actions.append(.finishHead(.expired))
            counters.droppedExpired += 1
            streak.dropped += 1
            actions.append(.log(.expired(result, attempts: attempts, failingFor: now - (firstAttempt ?? now))))
            forgetHead()
            phase = .ready
        } else {
            actions.append(.finishHead(.failed))
            phase = .waiting(until: retryAt)
        }
    }

    mutating func forgetHead() {
        head = nil
        firstAttempt = nil
        attempts = 0
    }
}

import Testing
@testable import OutboundEventsCore

/// SPEC section 2, promise by promise, on one recipient's delivery state machine alone: no
/// transport, no queue, no threads, no clock. Each case is a table of steps: an input at a
/// time, and exactly the actions it must give.
@Suite("Delivery rules: the recipient state machine")
struct RecipientDeliveryTests {
    typealias Input = RecipientDelivery.Input
    typealias Action = RecipientDelivery.Action

    struct Step: CustomStringConvertible {
        let at: Millis
        let input: Input
        let expected: [Action]
        var description: String { "at \(at): \(input)" }
    }

    static let minute: Millis = 60_000
    static let policy = RecipientDelivery.Policy(retryInterval: minute, retryDuration: 10 * minute)
    static let alerting = RecipientDelivery.Policy(retryInterval: minute, retryDuration: 10_000 * minute,
                                                   alerts: .init(after: 60 * minute, resend: 1440 * minute))

    static func ok(_ status: Int = 200) -> Input {
        .finished(.success(status: status, elapsed: 1), headEvicted: false, unixTime: 0)
    }
    static let http503 = DeliveryResult(status: 503, failure: .refused, error: "HTTP 503", elapsed: 1)
    static var fail: Input { .finished(http503, headEvicted: false, unixTime: 1_700_000_000) }

    /// A routed machine, then the steps, each checked.
    @discardableResult
    func run(policy: RecipientDelivery.Policy = Self.policy, _ steps: [Step]) -> RecipientDelivery {
        var machine = RecipientDelivery(policy: policy)
        #expect(machine.handle(.routeChanged(available: true), now: 0) == [])
        for step in steps {
            let actions = machine.handle(step.input, now: step.at)
            #expect(actions == step.expected, "\(step)")
        }
        return machine
    }

    func step(_ at: Millis, _ input: Input, _ expected: [Action] = []) -> Step {
        Step(at: at, input: input, expected: expected)
    }

    @Test("one event in flight at a time; the next goes only after the first is delivered")
    func oneInFlight() {
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .tick(head: 1)),
            step(2, .tick(head: 1)),
            step(3, Self.ok(), [.finishHead(.delivered)]),
            step(3, .tick(head: 2), [.startAttempt]),
            step(4, Self.ok(), [.finishHead(.delivered)]),
            step(4, .tick(head: nil)),
        ])
        #expect(machine.counters.delivered == 2)
        #expect(machine.phase == .ready)
    }

    @Test("a failed event stays at the head of line and is retried every retry interval; nothing after it goes meanwhile")
    func retriedInOrder() {
        let m = Self.minute
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(5, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(6, .tick(head: 1)),
            step(m + 4, .tick(head: 1)),
            step(m + 5, .tick(head: 1), [.startAttempt]),
            step(m + 9, Self.fail, [.finishHead(.failed)]),
            step(2 * m + 9, .tick(head: 1), [.startAttempt]),
            step(2 * m + 10, Self.ok(),
                 [.finishHead(.delivered), .log(.recovered(after: 2 * m + 5, failedAttempts: 2, dropped: 0))]),
            step(2 * m + 10, .tick(head: 2), [.startAttempt]),
        ])
        #expect(machine.attempts == 1, "the next event has its own count")
    }

    @Test("an event failing past its retry duration (from its first attempt) is dropped, logged and counted; the next goes at once")
    func retryDuration() {
        let m = Self.minute
        var steps = [step(0, .tick(head: 1), [.startAttempt]),
                     step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)])]
        for attempt in 1..<10 {
            // A journal summary every 5 minutes of the streak.
            steps.append(step(Millis(attempt) * m, .tick(head: 1),
                              (attempt == 5 ? [.log(.stillFailing)] : []) + [.startAttempt]))
            steps.append(step(Millis(attempt) * m, Self.fail, [.finishHead(.failed)]))
        }
        steps.append(step(10 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]))
        // Another try would start after 10 minutes: dropped now, not one interval later.
        steps.append(step(10 * m, Self.fail,
                          [.finishHead(.expired), .log(.expired(Self.http503, attempts: 11, failingFor: 10 * m))]))
        steps.append(step(10 * m, .tick(head: 2), [.startAttempt]))
        let machine = run(steps)
        #expect(machine.counters.droppedExpired == 1)
        #expect(machine.streak?.dropped == 1)
        #expect(machine.firstAttempt == 10 * m, "the next event's duration counts from its own first attempt")
    }

    @Test("a retry duration of 0 drops an event at its first failure")
    func zeroDuration() {
        run(policy: .init(retryInterval: Self.minute, retryDuration: 0), [
            step(0, .tick(head: 1), [.startAttempt]),
            step(3, Self.fail,
                 [.log(.failing(Self.http503)), .finishHead(.expired),
                  .log(.expired(Self.http503, attempts: 1, failingFor: 3))]),
        ])
    }

    @Test("no log storm: one entry when it starts failing, a summary every 5 minutes, one when it recovers")
    func summaries() {
        let m = Self.minute
        var steps = [step(0, .tick(head: 1), [.startAttempt]),
                     step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)])]
        var summaries = 0
        for i in 1...20 {
            let t = Millis(i) * m
            let summary = t % (5 * m) == 0
            if summary { summaries += 1 }
            steps.append(step(t, .tick(head: 1), (summary ? [.log(.stillFailing)] : []) + [.startAttempt]))
            steps.append(step(t, Self.fail, [.finishHead(.failed)]))
        }
        steps.append(step(21 * m, .tick(head: 1), [.startAttempt]))
        steps.append(step(21 * m, Self.ok(),
                          [.finishHead(.delivered), .log(.recovered(after: 21 * m, failedAttempts: 21, dropped: 0))]))
        run(policy: .init(retryInterval: m, retryDuration: 1000 * m), steps)
        #expect(summaries == 4)
    }

    @Test("failure alerts: the first after email_alert_after, then every email_alert_resend; one recovery email")
    func alerts() {
        let m = Self.minute
        let machine = run(policy: Self.alerting, [
            step(0, .tick(head: 1), [.startAttempt]),
            step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(59 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(59 * m, Self.fail, [.finishHead(.failed)]),
            step(60 * m, .tick(head: 1), [.sendFailureAlert, .startAttempt]),
            step(60 * m, Self.fail, [.finishHead(.failed)]),
            step(61 * m, .tick(head: 1), [.startAttempt]),
            step(61 * m, Self.fail, [.finishHead(.failed)]),
            step(1499 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(1499 * m, Self.fail, [.finishHead(.failed)]),
            step(1500 * m, .tick(head: 1), [.sendFailureAlert, .startAttempt]),
            step(1500 * m + 1, Self.ok(), [.finishHead(.delivered),
                                          .log(.recovered(after: 1500 * m + 1, failedAttempts: 5, dropped: 0)),
                                          .sendRecoveryAlert(failedFor: 1500 * m + 1, failedAttempts: 5, dropped: 0)]),
        ])
        #expect(!machine.alerted && machine.streak == nil)
    }

    @Test("failure alerts end when the failing event is dropped with nothing queued, the last one saying so; a new failing event starts them again")
    func alertsEndWithTheDroppedEvent() {
        let m = Self.minute
        let expired = RecipientDelivery.LogKind.expired(Self.http503, attempts: 7, failingFor: 60 * m)
        let machine = run(policy: .init(retryInterval: 10 * m, retryDuration: 60 * m,
                                        alerts: .init(after: 20 * m, resend: 30 * m)), [
            step(0, .tick(head: 1), [.startAttempt]),
            step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(10 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(10 * m, Self.fail, [.finishHead(.failed)]),
            step(20 * m, .tick(head: 1), [.log(.stillFailing), .sendFailureAlert, .startAttempt]),
            step(20 * m, Self.fail, [.finishHead(.failed)]),
            step(30 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(30 * m, Self.fail, [.finishHead(.failed)]),
            step(40 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(40 * m, Self.fail, [.finishHead(.failed)]),
            step(50 * m, .tick(head: 1), [.log(.stillFailing), .sendFailureAlert, .startAttempt]),
            step(50 * m, Self.fail, [.finishHead(.failed)]),
            step(60 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(60 * m, Self.fail, [.finishHead(.expired), .log(expired)]),
            // Nothing queued behind it: the last alert, then none while nothing fails.
            step(60 * m, .tick(head: nil), [.sendDroppedAlert]),
            step(80 * m, .tick(head: nil), [.log(.stillFailing)]),
            step(1000 * m, .tick(head: nil), [.log(.stillFailing)]),
            // A new event fails: a new stream, its first alert email_alert_after later.
            step(1001 * m, .tick(head: 2), [.startAttempt]),
            step(1001 * m, Self.fail, [.finishHead(.failed)]),
            step(1011 * m, .tick(head: 2), [.log(.stillFailing), .startAttempt]),
            step(1011 * m, Self.fail, [.finishHead(.failed)]),
            step(1021 * m, .tick(head: 2), [.log(.stillFailing), .sendFailureAlert, .startAttempt]),
            step(1021 * m + 1, Self.ok(), [.finishHead(.delivered),
                                          .log(.recovered(after: 1021 * m + 1, failedAttempts: 9, dropped: 1)),
                                          .sendRecoveryAlert(failedFor: 1021 * m + 1, failedAttempts: 9, dropped: 1)]),
        ])
        #expect(!machine.alerted && machine.streak == nil)
    }

    @Test("a dropped event with others queued behind it does not end the alerts: the recipient is still failing")
    func alertsGoOnWhileEventsWait() {
        let m = Self.minute
        run(policy: .init(retryInterval: 10 * m, retryDuration: 10 * m, alerts: .init(after: 20 * m, resend: 30 * m)), [
            step(0, .tick(head: 1), [.startAttempt]),
            step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(10 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(10 * m, Self.fail,
                 [.finishHead(.expired), .log(.expired(Self.http503, attempts: 2, failingFor: 10 * m))]),
            step(10 * m, .tick(head: 2), [.startAttempt]),
            step(10 * m, Self.fail, [.finishHead(.failed)]),
            step(20 * m, .tick(head: 2), [.log(.stillFailing), .sendFailureAlert, .startAttempt]),
        ])
    }

    @Test("no alert when the recipient recovers before email_alert_after, and no recovery email")
    func noAlertBeforeThreshold() {
        let m = Self.minute
        run(policy: Self.alerting, [
            step(0, .tick(head: 1), [.startAttempt]),
            step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(59 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
            step(59 * m, Self.ok(),
                 [.finishHead(.delivered), .log(.recovered(after: 59 * m, failedAttempts: 1, dropped: 0))]),
            step(61 * m, .tick(head: nil)),
        ])
    }

    @Test("disabled: the attempt in flight is abandoned, pending events are discarded, nothing more is sent; enabled again: only new events")
    func disableEnable() {
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .disabled, [.cancelAttempt, .discardPending(.disabled)]),
            step(2, Self.ok()),
            step(3, .tick(head: 1)),
            step(4, .disabled),
            step(5, .enabled),
            step(5, .tick(head: 7)),
            step(6, .routeChanged(available: true)),
            step(6, .tick(head: 7), [.startAttempt]),
        ])
        #expect(machine.counters.delivered == 0, "the late result of the abandoned attempt counts for nothing")
    }

    @Test("removed: the attempt in flight is abandoned and pending events discarded")
    func removed() {
        run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .removed, [.cancelAttempt, .discardPending(.removed)]),
            step(2, .tick(head: 1)),
        ])
    }

    @Test("an edit that changes where events go abandons the attempt in flight and retries the head event at once, even while it waited")
    func editRetriesAtOnce() {
        let m = Self.minute
        run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(2, .routeChanged(available: true)),
            step(2, .tick(head: 1), [.startAttempt]),
            step(3, .routeChanged(available: true), [.cancelAttempt]),
            step(3, .tick(head: 1), [.startAttempt]),
            step(4, .policyChanged(.init(retryInterval: 5 * m, retryDuration: 100 * m))),
            step(5, Self.fail, [.finishHead(.failed)]),
            step(5 + m, .tick(head: 1)),
            step(5 + 5 * m, .tick(head: 1), [.log(.stillFailing), .startAttempt]),
        ])
    }

    @Test("without a route (an email recipient with no relay) events wait; with one they go")
    func unrouted() {
        var machine = RecipientDelivery(policy: Self.policy)
        #expect(machine.handle(.tick(head: 1), now: 0) == [])
        #expect(machine.handle(.routeChanged(available: true), now: 1) == [])
        #expect(machine.handle(.tick(head: 1), now: 1) == [.startAttempt])
        #expect(machine.handle(.routeChanged(available: false), now: 2) == [.cancelAttempt])
        #expect(machine.handle(.tick(head: 1), now: 3) == [])
    }

    @Test("an event evicted for room while in flight: a failure moves on after the retry interval, counted by the queue")
    func evictedInFlight() {
        let m = Self.minute
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .finished(Self.http503, headEvicted: true, unixTime: 0),
                 [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(2, .tick(head: 5)),
            step(1 + m, .tick(head: 5), [.startAttempt]),
        ])
        #expect(machine.counters.droppedExpired == 0)
        #expect(machine.attempts == 1)
    }

    @Test("a new head of line while waiting (the old one evicted) keeps the retry time but gets its own retry duration")
    func newHeadWhileWaiting() {
        let m = Self.minute
        let machine = run(policy: .init(retryInterval: m, retryDuration: 2 * m), [
            step(0, .tick(head: 1), [.startAttempt]),
            step(0, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
            step(m, .tick(head: 1), [.startAttempt]),
            step(m, Self.fail, [.finishHead(.failed)]),
            step(m + 1, .tick(head: 2)),
            step(2 * m, .tick(head: 2), [.startAttempt]),
            step(2 * m, Self.fail, [.finishHead(.failed)]),
        ])
        #expect(machine.firstAttempt == 2 * m)
    }

    @Test("closing abandons the attempt in flight and starts nothing")
    func closing() {
        run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .closing, [.cancelAttempt]),
            step(2, .tick(head: 1)),
        ])
    }

    @Test("addresses a relay refused while it took the email are logged and counted; the email counts as delivered")
    func refusedAddresses() {
        var result = DeliveryResult.success(status: 250, elapsed: 1)
        let refused = [RefusedAddress(address: "bad@example.com", reply: "550 5.1.1 unknown")]
        result.refusedAddresses = refused
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(1, .finished(result, headEvicted: false, unixTime: 0),
                 [.finishHead(.delivered), .log(.addressesRefused(refused))]),
        ])
        #expect(machine.counters.refusedAddresses == 1 && machine.counters.delivered == 1)
        #expect(machine.lastStatus == 250)
    }

    @Test("the failure streak keeps what the status shows: since when, the last error")
    func streakForStatus() {
        let machine = run([
            step(0, .tick(head: 1), [.startAttempt]),
            step(7, Self.fail, [.log(.failing(Self.http503)), .finishHead(.failed)]),
        ])
        #expect(machine.streak?.sinceUnix == 1_700_000_000)
        #expect(machine.streak?.lastError == "HTTP 503")
        #expect(machine.lastStatus == 503)
        #expect(machine.retryTime == 7 + Self.minute)
    }
}

import Testing
@testable import OutboundEventsCore

@Suite("Retry and alert scheduling, as functions of time")
struct ScheduleTests {
    @Test("a failure is retried one interval later")
    func retry() {
        #expect(RetrySchedule.afterFailure(firstAttempt: 0, now: 0, interval: 60_000, duration: 86_400_000) == .retry(at: 60_000))
        #expect(RetrySchedule.afterFailure(firstAttempt: 0, now: 120_500, interval: 60_000, duration: 86_400_000) == .retry(at: 180_500))
    }

    @Test("no attempt starts after the retry duration, counted from the first attempt")
    func expiry() {
        // interval 1s, duration 3s: attempts at 0, 1, 2, 3; the failure at 3 drops the event.
        #expect(RetrySchedule.afterFailure(firstAttempt: 0, now: 2000, interval: 1000, duration: 3000) == .retry(at: 3000))
        #expect(RetrySchedule.afterFailure(firstAttempt: 0, now: 3000, interval: 1000, duration: 3000) == .drop)
        #expect(RetrySchedule.afterFailure(firstAttempt: 0, now: 0, interval: 1000, duration: 0) == .drop)
    }

    @Test("the first alert comes after the threshold, then one per resend interval")
    func alerts() {
        let after: Millis = 3_600_000, resend: Millis = 86_400_000
        #expect(!RetrySchedule.alertDue(failingSince: 0, lastAlert: nil, now: after - 1, after: after, resend: resend))
        #expect(RetrySchedule.alertDue(failingSince: 0, lastAlert: nil, now: after, after: after, resend: resend))
        #expect(!RetrySchedule.alertDue(failingSince: 0, lastAlert: after, now: after + resend - 1, after: after, resend: resend))
        #expect(RetrySchedule.alertDue(failingSince: 0, lastAlert: after, now: after + resend, after: after, resend: resend))
    }
}

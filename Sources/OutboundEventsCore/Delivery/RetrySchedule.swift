/// When a recipient tries again, gives up on an event, and tells people about it: pure
/// functions of the recipient's settings and the time, tested with an injected clock.
public enum RetrySchedule {
    public enum AfterFailure: Equatable {
        case retry(at: Millis)
        case drop
    }

    /// After an attempt failed at `now`: retry one interval later, unless that attempt would
    /// start after the event's retry duration (counted from its first attempt) has run out,
    /// in which case the event is dropped now rather than one pointless interval later.
    public static func afterFailure(firstAttempt: Millis, now: Millis, interval: Millis,
                                    duration: Millis) -> AfterFailure {
        let next = now + interval
        if next - firstAttempt > duration { return .drop }
        return .retry(at: next)
    }

    /// Whether a failure alert is due: the first once the recipient has failed continuously for
    /// `after`, then one every `resend` while it keeps failing.
    public static func alertDue(failingSince: Millis, lastAlert: Millis?, now: Millis,
                                after: Millis, resend: Millis) -> Bool {
        guard now - failingSince >= after else { return false }
        guard let lastAlert else { return true }
        return now - lastAlert >= resend
    }

    /// How often a recipient that keeps failing gets a summary line in the journal.
    public static let summaryInterval: Millis = 5 * 60_000

    public static func summaryDue(lastSummary: Millis, now: Millis) -> Bool {
        now - lastSummary >= summaryInterval
    }
}

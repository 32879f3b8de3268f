import OutboundEventsCore

/// One configured recipient and its delivery state. Lives in one of the agent's slots; every
/// field is guarded by the agent's lock.
final class Recipient {
    enum Kind: String { case http, email }

    let name: String
    let kind: Kind
    var http: HTTPRecipientSettings?
    var email: EmailRecipientSettings?

    // Delivery state of the head-of-line event.
    var inFlight = false
    var firstAttempt: Millis?
    var nextAttempt: Millis = 0
    var attempts = 0
    var currentEventID = ""
    var currentEventName = ""

    // Failure streak, for status, logs and alerts.
    var failingSince: Int64?
    var failingSinceMonotonic: Millis?
    var attemptsWhileFailing = 0
    var droppedWhileFailing = 0
    var lastSummary: Millis = 0
    var lastError: String?
    var lastHTTPStatus: Int?
    /// When the last failure alert was queued, and whether a recovery email is owed.
    var lastAlert: Millis?
    var alerted = false

    // Counters over the recipient's life.
    var delivered: UInt64 = 0
    var droppedExpired: UInt64 = 0
    var discarded: UInt64 = 0
    /// Addresses the relay refused while it took the email for the others (email recipients).
    var refusedAddresses: UInt64 = 0
    /// Overflow drops already reported in the journal.
    var overflowLogged: UInt64 = 0

    /// Reused from one delivery to the next, and touched by the delivery thread only: the
    /// head-of-line event copied out of the ring, and the request made of it.
    var record: [UInt8] = []
    var body: [UInt8] = []
    var signingInput: [UInt8] = []

    init(name: String, http: HTTPRecipientSettings) {
        self.name = name
        kind = .http
        self.http = http
    }

    init(name: String, email: EmailRecipientSettings) {
        self.name = name
        kind = .email
        self.email = email
    }

    var enabled: Bool { http?.enabled ?? email?.enabled ?? false }

    func wants(_ eventIndex: Int) -> Bool {
        http?.events.contains(eventIndex) ?? email?.events.contains(eventIndex) ?? false
    }

    var retryDuration: Millis { http?.retryDuration ?? email?.retryDuration ?? 86_400_000 }

    /// Forgets the head-of-line schedule, as when the recipient starts afresh.
    func resetDelivery(now: Millis) {
        inFlight = false
        firstAttempt = nil
        nextAttempt = now
        attempts = 0
    }

    func clearFailure() {
        lastAlert = nil
        alerted = false
        failingSince = nil
        failingSinceMonotonic = nil
        attemptsWhileFailing = 0
        droppedWhileFailing = 0
        lastError = nil
    }

    /// The `OE_*` fields every journal entry about this recipient carries.
    var logFields: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [("OE_RECIPIENT", name)]
        if let url = http?.url { fields.append(("OE_URL", url.redacted)) }
        return fields
    }
}

import Locking
import OutboundEventsCore

/// One recipient's line of the Outbound Events page's lists (SPEC 13): the status document's
/// values, as values.
public struct RecipientStatus: Sendable {
    public var name: String
    public var kind: String
    public var enabled: Bool
    public var status: String
    public var queued: Int
    public var delivered: UInt64
    /// Dropped after the retry duration, by overflow, or discarded when disabled.
    public var dropped: UInt64
    public var failingSince: Int64?
}

extension Agent {
    /// The recipients' statuses and the relay's `smtp.status`, for the page.
    public func pageStatus() -> (smtp: String, recipients: [RecipientStatus]) {
        let snapshot = lock.withLock { statusSnapshot() }
        return (snapshot.smtpStatus, snapshot.recipients.map { row in
            RecipientStatus(name: row.name, kind: row.kind, enabled: row.enabled, status: row.status,
                            queued: row.queued, delivered: row.delivered,
                            dropped: row.droppedExpired + row.droppedOverflow + row.discarded,
                            failingSince: row.failingSince)
        })
    }
}

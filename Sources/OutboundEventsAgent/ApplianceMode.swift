import Locking
import OutboundEventsCore

/// The agent as appliance mode's daemon uses it (SPEC 9): events arrive from the intake,
/// numbered there, instead of through `emit`; the configuration comes from a file, re-read
/// whole on reload.
extension Agent {
    /// Queues an event a producer wrote into the intake, with the number and time it was
    /// given there, for the recipients that want it. False when the queue is full and the
    /// policy is `reject` (the event stays in the intake), or the agent is closing.
    public func accept(_ record: EventView) -> Bool {
        var wake = false
        let accepted: Bool = lock.withLock {
            guard !closing else { return false }
            var mask: UInt64 = 0
            if let index = profile.index(of: record.name) {
                mask = wantMask[index]
                if mask & requireKeyMask != 0 && (record.variable("external_key")?.isEmpty ?? true) {
                    mask &= ~requireKeyMask
                }
            } else {
                undeclaredIntakeEvents += 1
            }
            guard case .queued = queue.append(copying: record, mask: mask) else { return false }
            spoolDirty = true
            if idleMask & mask != 0 {
                idleMask &= ~mask
                wake = true
            }
            return true
        }
        if wake { transport.wakeup() }
        return accepted
    }

    /// The daemon's spool, for log entries.
    public var spoolPath: String { lock.withLock { settings.queueSpool } }

    /// The sequence number the next event must have: every lower one is in the queue already.
    public var nextSequence: UInt64 {
        lock.withLock { queue.nextSeq }
    }

    /// The lowest sequence number some enabled recipient still has to deliver (`UInt64.max`
    /// when nothing is pending: then what waits in the intake says how far a flush has come).
    public func deliveredBefore() -> UInt64 {
        lock.withLock {
            var lowest = UInt64.max
            for slot in slots.indices {
                guard let recipient = slots[slot], recipient.enabled,
                      let head = queue.slot(slot).headSeq else { continue }
                lowest = min(lowest, head)
            }
            return lowest
        }
    }

    /// Events from the intake whose type this agent's profile does not declare (the producer's
    /// profile differs from the daemon's): counted, logged by the daemon, delivered to nobody.
    public func takeUndeclaredIntakeEvents() -> Int {
        lock.withLock {
            defer { undeclaredIntakeEvents = 0 }
            return undeclaredIntakeEvents
        }
    }

    /// Starts the delivery and sync threads of an agent made without them (`AgentEnvironment.startThread`
    /// off), publishing the status first: the daemon puts the recipients of its file before,
    /// so that no status, not even the first, shows a state its configuration does not have.
    public func startDelivery() throws(ConfigError) {
        let (status, path) = lock.withLock { (statusSnapshot(), settings.statusPath) }
        publish(status, path: path)
        try startThreads()
    }

    /// Replaces every agent setting with `pairs` (those missing go back to their defaults),
    /// as a reload does. The settings fixed at creation must not change.
    public func replaceSettings(_ pairs: [(key: String, value: String)]) throws(ConfigError) {
        try applySettings(pairs, replacing: true)
        transport.wakeup()
    }
}

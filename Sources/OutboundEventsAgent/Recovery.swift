import OutboundEventsCore
import Spool

/// What the agent does with a spool around restarts: says what it recovered, gives stored
/// positions back to recipients as they are put again, forgets the ones nobody claims within
/// `queue.spool_grace`, and says once when the last stop was unclean. (The spool is synced by
/// its own thread: Sync.swift.)
extension Agent {
    func logRecovery(_ spool: SpoolFile) {
        for note in spool.notes {
            log(LogEntry(.warning, .spoolDamaged, note, fields: [("OE_SPOOL", spool.path)]))
        }
        if spool.missing > 0 {
            log(LogEntry(.error, .spoolDamaged,
                         "spool \(spool.path): \(Self.count(Int(spool.missing), "event")) lost to damaged records"
                             + " were skipped",
                         fields: [("OE_SPOOL", spool.path), ("OE_LOST_EVENTS", String(spool.missing))]))
        }
        let pending = spool.resumed.filter { $0.queued > 0 }
        let total = pending.reduce(0) { $0 + $1.queued }
        if spool.uncleanStop { logUncleanStop(spool, kept: total) }
        guard !pending.isEmpty else { return }
        let detail = pending.map { "\($0.name): \($0.queued)" }.joined(separator: ", ")
        log(LogEntry(.notice, .spoolRecovered,
                     "spool \(spool.path): \(Self.count(total, "undelivered event")) recovered — \(detail);"
                         + " delivery resumes as each recipient is configured again",
                     fields: [("OE_SPOOL", spool.path), ("OE_RECOVERED_EVENTS", String(total))]))
    }

    /// The first start after a kill or a power cut says so once, with what recovery found.
    func logUncleanStop(_ spool: SpoolFile, kept: Int) {
        var found = "\(Self.count(kept, "undelivered event")) kept"
        found += spool.missing > 0
            ? ", \(Self.count(Int(spool.missing), "event")) lost to damaged or torn records"
            : ", no record lost or damaged"
        if let restart = spool.numberingRestarted {
            found += "; event numbers continue at \(restart), past every number given before the stop"
        }
        log(LogEntry(.warning, .uncleanStop,
                     "spool \(spool.path): the last stop was unclean (killed, or the power was cut): \(found)",
                     fields: [("OE_SPOOL", spool.path), ("OE_RECOVERED_EVENTS", String(kept)),
                              ("OE_LOST_EVENTS", String(spool.missing))]))
    }

    /// With the lock held, from housekeeping.
    func spoolHousekeeping(_ now: Millis) {
        if !orphans.isEmpty && now - startedAt >= settings.spoolGrace {
            for (slot, name) in orphans.sorted(by: { $0.key < $1.key }) {
                let count = queue.deactivate(slot)
                logLater(LogEntry(.warning, .eventsDiscarded,
                             "spool: \(Self.count(count, "event")) for recipient \(Values.quote(name)) discarded:"
                                 + " no recipient of that name was configured within queue.spool_grace"
                                 + " (\(Self.duration(settings.spoolGrace)))",
                             fields: [("OE_RECIPIENT", name), ("OE_SPOOL", settings.queueSpool)]))
            }
            orphans = [:]
            spoolDirty = true
        }
    }
}

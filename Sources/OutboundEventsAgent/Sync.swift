import CSystem
import Locking
import OutboundEventsCore
import Spool

/// What a `Syncer` makes durable: an agent's spool, a producer's intake.
protocol SyncWork: AnyObject {
    /// The longest a change may wait for its sync.
    var syncInterval: Millis { get }
    /// Makes what changed durable (everything, when a caller `asked`); false when the disk
    /// refused.
    func syncNow(asked: Bool) -> Bool
}

/// Power cuts (SPEC 11): a thread that syncs at least every `syncInterval` while something
/// changes and whenever `sync(timeout:)` asks, never holding a lock `oe_emit` takes, so a disk
/// that takes 100 ms per sync never reaches an emit, nor a delivery. Callers that ask at the
/// same time share one sync (group commit): each waits for the first sync that starts after
/// its call.
final class Syncer: @unchecked Sendable {
    /// The owner, which outlives the thread (`stop` joins it before the owner goes).
    unowned(unsafe) let work: any SyncWork
    let lock = ConditionLock()
    // Under `lock`: syncs asked for, started and finished, by number.
    var requested: UInt64 = 0
    var started: UInt64 = 0
    var done: UInt64 = 0
    var stopping = false
    var thread: pthread_t?

    init(_ work: any SyncWork) { self.work = work }

    func start() -> Bool {
        guard let handle = startThread({ self.run() }) else { return false }
        thread = handle
        return true
    }

    func run() {
        var last = ConditionLock.now()
        while true {
            let interval = work.syncInterval
            let turn: (number: UInt64, asked: Bool)? = lock.withLock {
                _ = lock.wait(until: last + interval) { requested > started || stopping }
                let asked = requested > started
                if stopping && !asked { return nil }
                started += 1
                return (started, asked)
            }
            guard let turn else { return }
            last = ConditionLock.now()
            let ok = work.syncNow(asked: turn.asked)
            lock.withLock {
                if ok { done = turn.number }
                lock.broadcast()
            }
        }
    }

    /// Returns once a sync that started after the call has finished; false at the deadline
    /// (`ConditionLock.now()` milliseconds).
    func sync(until deadline: Millis) -> Bool {
        lock.withLock {
            let target = started + 1
            requested = max(requested, target)
            lock.broadcast()
            return lock.wait(until: deadline) { done >= target }
        }
    }

    /// Asks for a sync as soon as the one under way (if any) ends, without waiting for it.
    func kick() {
        lock.withLock {
            guard requested <= started else { return }  // one is asked for already
            requested = started + 1
            lock.broadcast()
        }
    }

    /// One last sync, then the thread ends.
    func stop() {
        guard let thread else { return }
        lock.withLock {
            stopping = true
            requested = max(requested, started + 1)
            lock.broadcast()
        }
        pthread_join(thread, nil)
        self.thread = nil
    }
}

/// A log entry for a failing sync, once until one succeeds again.
final class SyncFailures: @unchecked Sendable {
    let failing = Locked(false)

    /// Whether this failure is the first of a streak (to be logged).
    func failed() -> Bool {
        failing.withLock { failing in
            defer { failing = true }
            return !failing
        }
    }
    func succeeded() { failing.withLock { $0 = false } }
}

extension Agent: SyncWork {
    var syncInterval: Millis { lock.withLock { settings.syncInterval } }

    /// One sync of the spool, if it changed (or a caller asks), and what follows it in
    /// appliance mode (the intake). False when the disk refused.
    func syncNow(asked: Bool) -> Bool {
        guard let spool else { return true }
        let (dirty, mark): (Bool, UInt64?) = lock.withLock {
            let dirty = spoolDirty || spool.extendReservation()
            spoolDirty = false
            // Taken with the lock, so every event the mark covers is in the ring already.
            return (dirty, environment.beforeSync?())
        }
        guard dirty || asked else {
            // Nothing changed since the last sync, which covers everything the mark does.
            if let mark { environment.afterSync?(mark) }
            return true
        }
        guard spool.sync() else {
            let reason = Files.errorText()
            lock.withLock { spoolDirty = true }
            if syncFailures.failed() {
                log(LogEntry(.error, .syncFailed,
                             "spool \(spool.path) cannot be written to disk: \(reason);"
                                 + " a power cut now can lose every event since the last successful sync"
                                 + " (retrying every \(Self.duration(syncInterval)))",
                             fields: [("OE_SPOOL", spool.path), ("OE_ERROR", reason)]))
            }
            return false
        }
        syncFailures.succeeded()
        if let mark { environment.afterSync?(mark) }
        return true
    }

    /// `oe_agent_sync`: returns once every event queued before the call is on the disk, or
    /// `timedOut`; `state` without a spool.
    public func sync(timeout: Millis) -> ResultCode {
        guard spool != nil else { return .state }
        guard let syncer else {
            // Driven by hand (tests): the caller syncs.
            return syncNow(asked: true) ? .ok : .timedOut
        }
        return syncer.sync(until: ConditionLock.now() + max(0, timeout)) ? .ok : .timedOut
    }

    /// Stops the sync thread after one last sync, then closes the spool cleanly.
    func closeSpool() {
        syncer?.stop()
        spool?.close()
    }
}

import CSystem
import OutboundEventsCore

/// A mutex with a condition variable, for the waits a plain lock does not offer (flush waiting
/// for the queue to drain). The condition uses CLOCK_MONOTONIC, so a wall-clock
/// jump never stretches or cuts a wait.
public final class ConditionLock: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// The clock of `wait`'s deadlines: CLOCK_MONOTONIC, in milliseconds.
    public static func now() -> Millis {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Millis(now.tv_sec) * 1000 + Millis(now.tv_nsec) / 1_000_000
    }

    /// With the lock held: waits until `done()` or the deadline (`now()` milliseconds).
    /// Returns `done()` at the end.
    public func wait(until deadline: Millis, _ done: () -> Bool) -> Bool {
        while !done() {
            if Self.now() >= deadline { return false }
            var until = timespec(tv_sec: Int(deadline / 1000), tv_nsec: Int(deadline % 1000) * 1_000_000)
            pthread_cond_timedwait(condition, mutex, &until)
        }
        return true
    }

    public func broadcast() { pthread_cond_broadcast(condition) }
}

import CSystem
import OutboundEventsCore
import Locking

/// The agent's two clocks: a monotonic one for scheduling (never jumps) and the wall clock for
/// event timestamps and failing-since times. Injected, so scheduling is tested without sleeping.
public protocol AgentClock: AnyObject, Sendable {
    func monotonic() -> Millis
    func unixSeconds() -> Int64
}

public final class SystemClock: AgentClock {
    public init() {}

    /// CLOCK_MONOTONIC, the clock `ConditionLock` waits by.
    public func monotonic() -> Millis { ConditionLock.now() }

    public func unixSeconds() -> Int64 { Int64(time(nil)) }
}

/// A clock that moves only when told to, for tests.
public final class ManualClock: AgentClock {
    let state: Locked<(monotonic: Millis, unix: Int64)>

    public init(monotonic: Millis = 1_000_000, unix: Int64 = 1_795_000_000) {
        state = Locked((monotonic, unix))
    }

    public func monotonic() -> Millis { state.withLock { $0.monotonic } }
    public func unixSeconds() -> Int64 { state.withLock { $0.unix } }

    /// Moves both clocks forward.
    public func advance(_ millis: Millis) {
        state.withLock { state in
            let before = state.monotonic / 1000
            state.monotonic += millis
            state.unix += state.monotonic / 1000 - before
        }
    }
}

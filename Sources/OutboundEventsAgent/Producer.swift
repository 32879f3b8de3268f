import CSystem
import Locking
import OutboundEventsCore
import Spool

/// A producer (SPEC 9): the agent of a firmware service in appliance mode, made with
/// `queue.attach = <the daemon's spool>`. Its `emit` checks the event as an agent would and
/// writes it straight into the daemon's intake; the daemon (`outbound-eventsd`) owns the
/// configuration, the queue and the delivery. Every method may be called from any thread.
public final class Producer: @unchecked Sendable {
    /// The settings a producer takes; every other belongs to the daemon's file.
    public static let keys = ["queue.attach", "firmware_profile", "log.identifier", "log.destination"]
    /// What a configuration call on a producer is told.
    public static let configurationRefused = ConfigError(
        .state, "queue.attach: this agent is a producer; the daemon (outbound-eventsd) owns the configuration:"
                    + " edit its file and reload it")

    public let spool: String
    public let profile: FirmwareProfile
    let intake: IntakeFile
    let clock: AgentClock
    let sink: LogSink
    let refusedEmits = EmitRefusals()
    /// Recorded with each claim: the daemon skips a claim whose writer is gone. (A producer is
    /// not carried across fork: a child makes its own.)
    let pid = UInt32(truncatingIfNeeded: getpid())
    /// Syncs the intake while no daemon runs (the daemon syncs it otherwise), and for
    /// `oe_agent_sync`.
    var syncer: Syncer?
    /// The claim position at the last sync: the intake changed when it moved.
    let syncedClaim = Locked<UInt64>(0)
    let syncFailures = SyncFailures()

    public init(settings pairs: [(key: String, value: String)], environment: AgentEnvironment) throws(ConfigError) {
        try Settings.rejectDuplicates(pairs)
        var settings = AgentSettings()
        var spool = ""
        for (key, value) in pairs {
            switch key {
            case "queue.attach":
                guard !value.isEmpty else {
                    throw ConfigError.invalid(key, "empty (the path of the daemon's queue.spool)")
                }
                spool = value
            case "firmware_profile", "log.identifier", "log.destination":
                try settings.set(key, value)
            default:
                guard AgentSettings.keys.contains(key) else { try settings.set(key, value); continue }
                throw ConfigError.invalid(key, "not a producer's setting: with queue.attach the daemon"
                                                   + " (outbound-eventsd) owns the configuration; a producer takes"
                                                   + " only queue.attach, firmware_profile, log.identifier"
                                                   + " and log.destination")
            }
        }
        self.spool = spool
        profile = try Agent.loadProfile(settings.firmwareProfile)
        intake = try IntakeFile.attach(spool: spool)
        intake.testStop = .fromEnvironment
        clock = environment.clock
        sink = environment.log ?? Agent.makeSink(settings)
        // The first to open the intake after a power cut may be a producer: numbering goes on
        // past every number given before the cut (the daemon does the same when it starts).
        if !intake.daemonRunning && !intake.restartNumbering(atLeast: 0) {
            throw ConfigError(.io, "queue.attach: cannot write \(intake.path) to disk: \(Files.errorText())")
        }
        let syncer = Syncer(self)
        guard syncer.start() else { throw ConfigError(.noMemory, "cannot start the intake's sync thread") }
        self.syncer = syncer
    }

    /// Stops the sync thread (after a last sync). Must be the last call.
    public func close() {
        syncer?.stop()
        syncer = nil
    }

    // The sync thread reaches this producer without holding it: it ends first.
    deinit { close() }

    /// The largest event the daemon's queue and the intake take.
    public var maxEventSize: Int {
        let intakeLimit = EventQueue.maximumEventSize(capacity: intake.capacity)
        let daemonLimit = intake.largestEvent
        return daemonLimit == 0 ? intakeLimit : min(daemonLimit, intakeLimit)
    }

    /// Checks the event as `Agent.emit` does and writes it into the intake. `queueFull` when
    /// the intake is full and the daemon's policy is `reject`.
    public func emit(name: UnsafeRawBufferPointer, variables: Fields, customFields: Fields) -> (ResultCode, String?) {
        switch CheckedEvent.check(name: name, variables: variables, customFields: customFields, profile: profile,
                                  maxEventSize: maxEventSize) {
        case .refused(let code, let reason):
            return (code, reason)
        case .event(let event):
            let result = intake.append(size: event.size, timestamp: event.timestamp ?? clock.unixSeconds(), name: name,
                                       variables: event.variables, customFields: customFields, pid: pid)
            return (result == .queued ? .ok : .queueFull, nil)
        }
    }

    /// `emit` with Swift strings, for the tool and tests.
    public func emit(_ event: String, variables: [(String, String)],
                     customFields: [(String, String)] = []) -> (ResultCode, String?) {
        let name = Array(event.utf8)
        return StringFields(variables).withFields { variables in
            StringFields(customFields).withFields { customFields in
                name.withUnsafeBytes { emit(name: $0, variables: variables, customFields: customFields) }
            }
        }
    }

    public func reportRefusedEmit(_ code: ResultCode, _ message: String?) {
        refusedEmits.report(code, message, now: clock.monotonic()) { sink.write($0) }
    }

    /// Waits until the daemon has delivered every event written so far (or no recipient
    /// wants it), at most `timeout`. A stopped daemon delivers nothing: that times out.
    public func flush(timeout: Millis) -> ResultCode {
        let deadline = ConditionLock.now() + timeout
        return intake.waitDelivered(deadline: deadline, now: ConditionLock.now) ? .ok : .timedOut
    }

    /// `oe_agent_sync` for a producer: returns once every event it wrote before the call is on
    /// the disk, in the intake or in the daemon's spool.
    public func sync(timeout: Millis) -> ResultCode {
        guard let syncer else { return .state }
        return syncer.sync(until: ConditionLock.now() + max(0, timeout)) ? .ok : .timedOut
    }

    /// Whether the daemon runs.
    public var daemonRunning: Bool { intake.daemonRunning }

    /// The daemon's latest status document, with `"daemon"` saying whether it runs now.
    public func status() -> String {
        let running = intake.daemonRunning
        guard let published = intake.readStatus() else {
            return "{\"daemon\":\"\(running ? "running" : "stopped")\",\"spool\":\(JSONWriter.quoted(spool))}"
        }
        // The daemon writes "running"; "stopped" has as many letters.
        guard !running, let range = published.byteRange(of: "\"daemon\":\"running\"") else { return published }
        return String(published[..<range.lowerBound]) + "\"daemon\":\"stopped\""
            + String(published[range.upperBound...])
    }
}

extension Producer: SyncWork {
    var syncInterval: Millis {
        let published = intake.syncInterval
        return published == 0 ? AgentSettings().syncInterval : published
    }

    /// While no daemon runs, nobody else makes the intake durable: a producer does, when it
    /// changed, and always when a caller asks.
    func syncNow(asked: Bool) -> Bool {
        let claimed = intake.claimPosition
        guard asked || (syncedClaim.withLock { $0 } != claimed && !intake.daemonRunning) else { return true }
        guard intake.reserveAhead(), intake.sync() else {
            let reason = Files.errorText()
            if syncFailures.failed() {
                sink.write(LogEntry(.error, .syncFailed,
                                    "intake \(intake.path) cannot be written to disk: \(reason);"
                                        + " a power cut now can lose the events written since the last successful sync",
                                    fields: [("OE_SPOOL", spool), ("OE_ERROR", reason)]))
            }
            return false
        }
        syncFailures.succeeded()
        syncedClaim.withLock { $0 = claimed }
        return true
    }
}

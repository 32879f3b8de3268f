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
        .state, "queue.attach: this agent is a producer; the daemon (outbound-eventsd) owns the configuration: edit its file and reload it")

    public let spool: String
    public let profile: FirmwareProfile
    let intake: IntakeFile
    let clock: AgentClock
    let sink: LogSink
    let refusedEmits = EmitRefusals()

    public init(settings pairs: [(key: String, value: String)], environment: AgentEnvironment) throws(ConfigError) {
        try Settings.rejectDuplicates(pairs)
        var settings = AgentSettings()
        var spool = ""
        for (key, value) in pairs {
            switch key {
            case "queue.attach":
                guard !value.isEmpty else { throw ConfigError.invalid(key, "empty (the path of the daemon's queue.spool)") }
                spool = value
            case "firmware_profile", "log.identifier", "log.destination":
                try settings.set(key, value)
            default:
                guard AgentSettings.keys.contains(key) else { try settings.set(key, value); continue }
                throw ConfigError.invalid(key, "not a producer's setting: with queue.attach the daemon (outbound-eventsd) owns the configuration; a producer takes only queue.attach, firmware_profile, log.identifier and log.destination")
            }
        }
        self.spool = spool
        profile = try Agent.loadProfile(settings.firmwareProfile)
        intake = try IntakeFile.attach(spool: spool)
        clock = environment.clock
        sink = environment.log ?? Agent.makeSink(settings)
    }

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
                                       variables: event.variables, customFields: customFields)
            return (result == .queued ? .ok : .queueFull, nil)
        }
    }

    /// `emit` with Swift strings, for the tool and tests.
    public func emit(_ event: String, variables: [(String, String)], customFields: [(String, String)] = []) -> (ResultCode, String?) {
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
        return String(published[..<range.lowerBound]) + "\"daemon\":\"stopped\"" + String(published[range.upperBound...])
    }
}

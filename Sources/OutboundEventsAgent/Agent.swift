import CSystem
import Transfers
import Journal
import OutboundEventsCore
import Spool
import Locking
import TLSMaterial

/// What an agent is built with besides its settings. Tests inject a manual clock, a fake
/// transport and a capturing log, and drive the delivery loop by hand.
public struct AgentEnvironment: Sendable {
    /// The library's version, for `User-Agent` and the status document.
    public var version: String
    public var clock: AgentClock = SystemClock()
    /// Makes the transport; nil: libcurl.
    public var makeTransport: (@Sendable () -> Transport?)?
    /// Where log entries go; nil: as `log.destination` says.
    public var log: LogSink?
    /// False in tests that call `turn` themselves, and in the daemon until its configuration
    /// file is applied (`startDelivery`).
    public var startThread = true
    /// Appliance mode (the daemon, SPEC 9): where each status document also goes (the intake,
    /// for producers), and the events the intake dropped. Set, the status says
    /// `"daemon": "running"`.
    public var publishStatus: (@Sendable (String) -> Void)?
    public var intakeDropped: (@Sendable () -> UInt64)?
    /// Appliance mode: events are numbered in the intake, so the spool keeps their numbers
    /// and protects none of its own.
    public var numberedByIntake = false
    /// Appliance mode: called with the agent's lock held as a spool sync begins (what it
    /// returns marks how far the intake has been moved into the queue), and after the sync
    /// succeeded with that mark: the intake may then reuse the room of what the mark covers.
    public var beforeSync: (@Sendable () -> UInt64)?
    public var afterSync: (@Sendable (UInt64) -> Void)?

    public init(version: String) { self.version = version }
}

/// What the agent knows of its SMTP relay.
enum SMTPStatus: Equatable {
    case notChecked
    case ok
    /// The relay's last refusal or the connection error.
    case failing(String)

    var text: String {
        switch self {
        case .notChecked: "not checked"
        case .ok: "OK"
        case .failing(let error): error
        }
    }
}

/// The agent: one queue, up to 64 recipients, one delivery thread. Every public method may be
/// called from any thread; `close` must be the last call.
public final class Agent: @unchecked Sendable {
    let environment: AgentEnvironment
    let clock: AgentClock
    let lock = ConditionLock()
    /// Where entries go; swapped when log settings change, read by any thread.
    let sink: Locked<any LogSink>

    // Everything below is guarded by `lock`.
    var settings: AgentSettings
    public let profile: FirmwareProfile
    var wire: WireFormat
    /// The ring's memory when there is no spool (the spool maps its own).
    let memory: UnsafeMutableRawBufferPointer?
    let spool: SpoolFile?
    /// Changes since the spool was last synced to disk (only read when there is a spool).
    var spoolDirty = false
    /// The spool's sync thread (Sync.swift); nil without a spool or when driven by hand.
    var syncer: Syncer?
    let syncFailures = SyncFailures()
    /// Slots whose positions were recovered from the spool but whose recipient has not been
    /// put again yet; discarded after `queue.spool_grace`.
    var orphans: [Int: String] = [:]
    let startedAt: Millis
    let queue: EventQueue
    public let maxEventSize: Int
    var slots: [Recipient?] = Array(repeating: nil, count: EventQueue.maxSlots)
    /// Per event type, the slots of enabled recipients that select it.
    var wantMask: [UInt64]
    /// Slots of email recipients that require an external key.
    var requireKeyMask: UInt64 = 0
    /// Slots with nothing to do: an emit for one of them wakes the delivery thread.
    var idleMask: UInt64 = 0
    var closing = false
    var closeDeadline: Millis = 0
    /// Bumped by every change of recipients or settings; the delivery thread brings the
    /// transport in line when it differs from what it last applied.
    var configGeneration = 1
    var appliedGeneration = 0
    /// Threads waiting in `flush`: the delivery thread wakes them only when nothing is pending,
    /// not after every delivery (which would cost a futex wake-up and a context switch each).
    var flushWaiters = 0
    var lastHousekeeping: Millis = 0
    var lastStatusWrite: Millis = 0

    /// Alert emails waiting for the relay, oldest first, and the state of the one in flight.
    var alerts: [PendingMail] = []
    var alertInFlight = false
    var alertNextAttempt: Millis = 0
    /// What is known of the relay (SPEC 2, "SMTP current status"); back to `notChecked`
    /// whenever `smtp.*` change, so a former relay's error never shows for a new one.
    var smtpStatus = SMTPStatus.notChecked
    /// Events the daemon took from its intake that its profile does not declare.
    var undeclaredIntakeEvents = 0
    /// Emits refused, for the journal.
    let refusedEmits = EmitRefusals()
    /// Entries made with the lock held, written once it is released (`locked`).
    var pendingLogs: [LogEntry] = []
    /// Reused by `drive` for a machine's actions, and the transfers a turn starts after
    /// releasing the lock.
    var actionBuffer: [RecipientDelivery.Action] = []
    var pendingSends: [PendingSend] = []
    /// The delivery thread's own: the sends of this turn, swapped out of `pendingSends` so that
    /// both arrays keep their storage (no allocation while the lock is held).
    var startingSends: [PendingSend] = []
    /// The relay check (SPEC 10): in flight, and when the next is due (at once after `smtp.*`
    /// change; a retry interval after the last mail or check otherwise).
    var relayCheckInFlight = false
    var nextRelayCheck: Millis = 0
    /// Mail results so far, and their number when the check in flight started: a mail's answer
    /// is newer news than a check that started before it.
    var mailResults = 0
    var mailResultsAtCheck = 0

    // Owned by the delivery thread (and `close` after it has stopped).
    let transport: Transport
    /// What the transport is configured with, per slot (recipients, then the alert slot).
    var applied: [(recipient: Recipient?, target: TransferTarget)?] = Array(repeating: nil, count: Agent.transportSlots)
    var thread: pthread_t?

    /// Slots 0 to 63 belong to recipients; one more carries alert emails, and one checks the
    /// relay while no mail goes through it.
    static let alertSlot = EventQueue.maxSlots
    static let relayCheckSlot = EventQueue.maxSlots + 1
    static let transportSlots = EventQueue.maxSlots + 2

    /// Makes an agent from agent settings. Throws with the code and one-line reason.
    public init(settings pairs: [(key: String, value: String)], environment: AgentEnvironment) throws(ConfigError) {
        var settings = AgentSettings()
        try settings.apply(pairs)
        self.environment = environment
        clock = environment.clock
        if !settings.smtp.caCertificate.isEmpty {
            _ = try CACertificate("smtp.ca_certificate", pem: settings.smtp.caCertificate, now: clock.unixSeconds())
        }
        profile = try Self.loadProfile(settings.firmwareProfile)
        if settings.applianceID.isEmpty { settings.applianceID = Self.hostName() }
        self.settings = settings

        if settings.queueSpool.isEmpty {
            guard let raw = malloc(settings.queueCapacity) else {
                throw ConfigError(.noMemory, "queue.capacity: cannot allocate \(settings.queueCapacity) bytes")
            }
            let memory = UnsafeMutableRawBufferPointer(start: raw, count: settings.queueCapacity)
            self.memory = memory
            spool = nil
            queue = EventQueue(memory: memory, policy: settings.queueOverflow)
            wire = WireFormat(version: profile.version, applianceID: settings.applianceID,
                              instance: UInt64.random(in: 1...UInt64.max))
        } else {
            let spool = try SpoolFile(path: settings.queueSpool, capacity: settings.queueCapacity,
                                      policy: settings.queueOverflow, now: clock.unixSeconds(),
                                      numbering: environment.numberedByIntake ? .external : .own)
            self.spool = spool
            memory = nil
            queue = spool.queue
            wire = WireFormat(version: profile.version, applianceID: settings.applianceID,
                              instance: spool.header.instance)
            for (slot, name, _) in spool.resumed { orphans[slot] = name }
        }
        maxEventSize = EventQueue.maximumEventSize(capacity: settings.queueCapacity)
        startedAt = clock.monotonic()
        wantMask = Array(repeating: 0, count: profile.events.count)
        sink = Locked(environment.log ?? Self.makeSink(settings))

        guard let transport = environment.makeTransport.map({ $0() })
                ?? CurlTransport(slots: Self.transportSlots) else {
            throw ConfigError(.noMemory, "libcurl could not be initialised")
        }
        self.transport = transport
        lastHousekeeping = clock.monotonic()
        if let spool { logRecovery(spool) }
        if environment.startThread { try startThreads() }
    }

    /// The delivery thread, and the spool's sync thread.
    func startThreads() throws(ConfigError) {
        guard startThread() else {
            throw ConfigError(.noMemory, "cannot start the delivery thread")
        }
        guard spool != nil else { return }
        let syncer = Syncer(self)
        guard syncer.start() else {
            close()
            throw ConfigError(.noMemory, "cannot start the spool's sync thread")
        }
        self.syncer = syncer
    }

    /// Starts a spool sync now rather than at the end of `queue.sync_interval`, and returns
    /// without waiting for it (the daemon, when its intake fills faster than syncs give room
    /// back).
    public func syncSoon() { syncer?.kick() }

    deinit {
        // The sync thread reaches the agent without holding it: it ends first.
        syncer?.stop()
        free(memory?.baseAddress)
    }

    /// The firmware profile at `path` (the built-in B Series one when empty), its recipient
    /// defaults checked now, not at the first put.
    static func loadProfile(_ path: String) throws(ConfigError) -> FirmwareProfile {
        let profile = path.isEmpty
            ? FirmwareProfile.bSeries
            : try FirmwareProfile(parsing: try Files.readText(path, key: "firmware_profile"), source: path)
        do {
            _ = try HTTPRecipientSettings([("url", "https://example.invalid/")], profile: profile,
                                          deployment: .appliance)
            _ = try EmailRecipientSettings([("addresses", "check@example.invalid")], profile: profile)
        } catch {
            throw ConfigError(.invalid, "firmware_profile: \(error.message)")
        }
        return profile
    }

    static func makeSink(_ settings: AgentSettings) -> LogSink {
        switch settings.logDestination {
        case .journal: JournalSink(identifier: settings.logIdentifier)
        case .stderr: StderrSink(identifier: settings.logIdentifier)
        case .none: NullSink()
        }
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Settings

    /// Changes agent settings; nothing changes if one is wrong.
    public func configure(_ pairs: [(key: String, value: String)]) throws(ConfigError) {
        do {
            try applySettings(pairs)
        } catch {
            log(LogEntry(.warning, error.code == .tls ? .caCertificateRejected : .settingsRefused,
                         "settings refused: \(error.message)", fields: [("OE_ERROR", error.message)]))
            throw error
        }
        transport.wakeup()
    }

    /// Validates and applies agent settings, taking the lock itself; changes nothing if one is
    /// wrong. With `replacing`, the settings not in `pairs` go back to their defaults (a
    /// daemon's reload: the file is the whole configuration).
    func applySettings(_ pairs: [(key: String, value: String)], replacing: Bool = false) throws(ConfigError) {
        try lock.withLock { () throws(ConfigError) in
            guard !closing else { throw Self.closingError }
            var updated = replacing ? AgentSettings() : settings
            try updated.apply(pairs)
            for key in AgentSettings.fixedAtCreation where replacing || pairs.contains(where: { $0.key == key }) {
                let unchanged = switch key {
                case "queue.capacity": updated.queueCapacity == settings.queueCapacity
                case "queue.spool": updated.queueSpool == settings.queueSpool
                default: updated.firmwareProfile == settings.firmwareProfile
                }
                guard unchanged else {
                    throw ConfigError(.state, "\(key): fixed when the agent is made;"
                                                  + " close it and make a new one to change it")
                }
            }
            if updated.smtp.caCertificate != settings.smtp.caCertificate && !updated.smtp.caCertificate.isEmpty {
                _ = try CACertificate("smtp.ca_certificate", pem: updated.smtp.caCertificate, now: clock.unixSeconds())
            }
            if updated.deployment == .cloud {
                for case let recipient? in slots {
                    guard let url = recipient.http?.url else { continue }
                    do throws(ConfigError) { try url.checkCloud("url") } catch {
                        throw ConfigError.invalid("deployment",
                                                  "recipient \(Values.quote(recipient.name)) has \(error.message);"
                                                      + " change it before switching to cloud")
                    }
                }
            }
            if (replacing || pairs.contains(where: { $0.key == "appliance_id" })) && updated.applianceID.isEmpty {
                updated.applianceID = Self.hostName()
            }
            if updated.logDestination != settings.logDestination || updated.logIdentifier != settings.logIdentifier,
               environment.log == nil {
                let replacement = Self.makeSink(updated)
                sink.withLock { $0 = replacement }
            }
            if updated.smtp != settings.smtp {
                smtpStatus = .notChecked
                nextRelayCheck = clock.monotonic()
            }
            wire = WireFormat(version: profile.version, applianceID: updated.applianceID, instance: wire.instance)
            queue.policy = updated.queueOverflow
            settings = updated
            configGeneration += 1
        }
    }

    // MARK: Recipients

    /// Adds or replaces the HTTP recipient `name`.
    public func putHTTPRecipient(_ name: String, _ pairs: [(key: String, value: String)]) throws(ConfigError) {
        do {
            try Values.recipientName(name)
            let now = clock.unixSeconds()
            try locked { () throws(ConfigError) in
                let recipientSettings = try HTTPRecipientSettings(pairs, profile: profile,
                                                                  deployment: settings.deployment)
                if !recipientSettings.caCertificate.isEmpty {
                    do throws(ConfigError) {
                        _ = try CACertificate("ca_certificate", pem: recipientSettings.caCertificate, now: now)
                    } catch {
                        logLater(LogEntry(.warning, .caCertificateRejected,
                                          "recipient \(Values.quote(name)): CA certificate refused: \(error.message)",
                                          fields: [("OE_RECIPIENT", name), ("OE_ERROR", error.message)]))
                        throw error
                    }
                }
                try put(name, kind: .http) { existing in
                    if let existing {
                        existing.http = recipientSettings
                        return existing
                    }
                    return Recipient(name: name, http: recipientSettings,
                                     smtpRetryInterval: settings.smtp.retryInterval)
                }
            }
        } catch {
            refused("HTTP recipient", name, error)
            throw error
        }
        transport.wakeup()
    }

    /// Adds or replaces the email recipient `name`.
    public func putEmailRecipient(_ name: String, _ pairs: [(key: String, value: String)]) throws(ConfigError) {
        do {
            try Values.recipientName(name)
            try locked { () throws(ConfigError) in
                let recipientSettings = try EmailRecipientSettings(pairs, profile: profile)
                try put(name, kind: .email) { existing in
                    if let existing {
                        existing.email = recipientSettings
                        return existing
                    }
                    return Recipient(name: name, email: recipientSettings,
                                     smtpRetryInterval: settings.smtp.retryInterval)
                }
            }
        } catch {
            refused("email recipient", name, error)
            throw error
        }
        transport.wakeup()
    }

    func refused(_ kind: String, _ name: String, _ error: ConfigError) {
        guard error.code != .tls else { return }
        log(LogEntry(.warning, .settingsRefused, "\(kind) \(Values.quote(name)) refused: \(error.message)",
                     fields: [("OE_RECIPIENT", name), ("OE_ERROR", error.message)]))
    }

    /// With the lock held: installs a new or edited recipient. An edit keeps the slot, so the
    /// recipient keeps its queued events and its place; enabling and disabling follow SPEC 2.
    func put(_ name: String, kind: Recipient.Kind, _ make: (Recipient?) -> Recipient) throws(ConfigError) {
        guard !closing else { throw Self.closingError }
        let now = clock.monotonic()
        if let slot = slotIndex(of: name) {
            let existing = slots[slot]!
            guard existing.kind == kind else {
                throw ConfigError(.exists, "name: \(Values.quote(name)) is already an"
                                               + " \(existing.kind == .http ? "HTTP" : "email") recipient")
            }
            let wasEnabled = existing.enabled
            _ = make(existing)
            drive(existing, slot: slot, .policyChanged(existing.policy(smtpRetryInterval: settings.smtp.retryInterval)),
                  now: now)
            if wasEnabled && !existing.enabled {
                drive(existing, slot: slot, .disabled, now: now)
            } else if !wasEnabled && existing.enabled {
                queue.activate(slot, name: name, keepCounters: true)
                drive(existing, slot: slot, .enabled, now: now)
            }
        } else if let slot = orphans.first(where: { $0.value == name })?.key {
            // Back after a restart: the recipient takes its stored position in the spool.
            orphans[slot] = nil
            let recipient = make(nil)
            slots[slot] = recipient
            if !recipient.enabled { drive(recipient, slot: slot, .disabled, now: now) }
        } else {
            guard let slot = slots.indices.first(where: { slots[$0] == nil && orphans[$0] == nil }) else {
                throw ConfigError(.state, "name: cannot add \(Values.quote(name)):"
                                              + " \(EventQueue.maxSlots) recipients exist already (the limit)")
            }
            let recipient = make(nil)
            slots[slot] = recipient
            if recipient.enabled {
                queue.activate(slot, name: name)
            } else {
                drive(recipient, slot: slot, .disabled, now: now)
            }
        }
        spoolDirty = true
        recomputeMasks()
    }

    /// Removes the recipient `name` of either kind and discards its pending events.
    public func removeRecipient(_ name: String) -> ResultCode {
        let result: ResultCode = locked {
            guard !closing else { return .state }
            guard let slot = slotIndex(of: name), let recipient = slots[slot] else { return .notFound }
            drive(recipient, slot: slot, .removed, now: clock.monotonic())
            slots[slot] = nil
            recomputeMasks()
            lock.broadcast()
            return .ok
        }
        guard result == .ok else { return result }
        transport.wakeup()
        return .ok
    }

    /// Configuration once `close` has begun: refused, not applied to a queue whose spool the
    /// closing delivery thread may already have unmapped. (The header forbids any call during
    /// or after `oe_agent_close`; this keeps a call that races it from writing to the spool.)
    static let closingError = ConfigError(.state, "the agent is closing: its configuration can no longer change")

    func slotIndex(of name: String) -> Int? {
        slots.firstIndex { $0?.name == name }
    }

    func recomputeMasks() {
        configGeneration += 1
        wantMask = Array(repeating: 0, count: profile.events.count)
        requireKeyMask = 0
        for (slot, recipient) in slots.enumerated() {
            guard let recipient, recipient.enabled else { continue }
            let bit: UInt64 = 1 << UInt64(slot)
            for index in profile.events.indices where recipient.wants(index) { wantMask[index] |= bit }
            if recipient.email?.requireExternalKey == true { requireKeyMask |= bit }
        }
    }

    // MARK: Emitting

    /// Queues one event. Its fields are read in place and copied once, into the ring; a
    /// `timestamp` variable becomes the time the event occurred. Returns the result code and,
    /// for a refusal, why.
    public func emit(name: UnsafeRawBufferPointer, variables: Fields, customFields: Fields) -> (ResultCode, String?) {
        let event: CheckedEvent
        switch CheckedEvent.check(name: name, variables: variables, customFields: customFields, profile: profile,
                                  maxEventSize: maxEventSize) {
        case .refused(let code, let reason): return (code, reason)
        case .event(let checked): event = checked
        }
        let when = event.timestamp ?? clock.unixSeconds()
        var wake = false
        let result: ResultCode = lock.withLock {
            guard !closing else { return .state }
            var mask = wantMask[event.eventIndex]
            if !event.hasExternalKey { mask &= ~requireKeyMask }
            guard mask != 0 else { return .ok }
            switch queue.append(size: event.size, mask: mask, timestamp: when, name: name,
                                variables: event.variables, customFields: customFields) {
            case .queued:
                spoolDirty = true
                if idleMask & mask != 0 {
                    idleMask &= ~mask
                    wake = true
                }
                return .ok
            case .full:
                return .queueFull
            }
        }
        if wake { transport.wakeup() }
        return (result, nil)
    }

    /// An emit refused for a reason the C caller cannot read: said in the journal, at most
    /// once a minute (`EmitRefusals`).
    public func reportRefusedEmit(_ code: ResultCode, _ message: String?) {
        refusedEmits.report(code, message, now: clock.monotonic()) { log($0) }
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

    // MARK: Waiting and closing

    /// Waits until nothing is pending for any enabled recipient, at most `timeout`.
    public func flush(timeout: Millis) -> ResultCode {
        let deadline = ConditionLock.now() + timeout
        return lock.withLock {
            flushWaiters += 1
            defer { flushWaiters -= 1 }
            return lock.wait(until: deadline) { !hasPending() }
        } ? .ok : .timedOut
    }

    func hasPending() -> Bool {
        slots.indices.contains { slot in
            guard let recipient = slots[slot], recipient.enabled else { return false }
            return recipient.delivery.isSending || queue.slot(slot).hasPending
        }
    }

    /// Stops the agent: without a spool, delivers for up to `shutdown_timeout` and logs what
    /// is lost. Must be the last call (a second one does nothing).
    public func close() {
        let again: Bool = lock.withLock {
            if closing { return true }
            closing = true
            // Driven by hand (tests), nobody would advance the clock to the deadline.
            closeDeadline = clock.monotonic() + (thread == nil ? 0 : settings.shutdownTimeout)
            return false
        }
        guard !again else { return }
        transport.wakeup()
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        } else {
            while turn(maxWait: 0) {}
        }
        closeSpool()
    }

    // MARK: Logging

    /// Runs `body` with the lock held, then writes the log entries it made: a journal write,
    /// or a blocking write to stderr, never holds up an `oe_emit`.
    func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        var entries: [LogEntry] = []
        // The entries are taken in the same hold of the lock: no second locking for them.
        defer { for entry in entries { log(entry) } }
        return try lock.withLock { () throws(E) -> R in
            defer {
                if !pendingLogs.isEmpty {
                    entries = pendingLogs
                    pendingLogs.removeAll(keepingCapacity: true)
                }
            }
            return try body()
        }
    }

    /// With the lock held: an entry to write once it is released.
    func logLater(_ entry: LogEntry) {
        pendingLogs.append(entry)
    }

    /// Writes an entry now, without the lock (also the daemon's own entries: start, reload).
    public func log(_ entry: LogEntry) {
        let destination = sink.withLock { $0 }
        destination.write(entry)
    }
}

import COutboundEvents
import CSystem
import CSystemd
import Locking
import OutboundEventsAgent
import OutboundEventsCore
import Spool

/// `outbound-eventsd`: the appliance's one delivering agent (SPEC 9). It reads its
/// configuration file, runs an agent on the spool, moves the events producers write into the
/// intake beside the spool into the agent's queue, and publishes the agent's status there for
/// them. SIGHUP re-reads the file and applies it whole or not at all; SIGTERM stops it like
/// `oe_agent_close`.
final class Daemon: @unchecked Sendable {
    static let defaultConfig = "/etc/outbound-events/outbound-events.conf"
    static let defaultSpool = "/var/lib/outbound-events/queue"
    /// Events moved per hold of the intake's lock: producers wait at most this many copies.
    static let batch = 16
    /// Microseconds the daemon stays awake after a wake-up before it takes events: at most one
    /// wake-up per this time, whatever the rate of emits, for a delay delivery never notices.
    static let coalesce: UInt32 = 1000

    let configPath: String
    let agent: Agent
    let intake: IntakeFile
    /// The configuration applied last (with the default spool filled in), for reload's diff.
    var current: SettingsFile
    /// The same with its files (the configuration file and the page's state file), for the page.
    var configuration: Configuration
    let stopping = Locked(false)
    var thread = pthread_t()
    /// Held while a reload or a change from the page is checked and applied: one at a time.
    let applying = Locked(())
    /// The page and its API (SPEC 13), when a listener is configured.
    var admin: AdminServer?

    init(configuration: Configuration, agent: Agent, intake: IntakeFile) {
        configPath = configuration.configPath
        current = configuration.file
        self.configuration = configuration
        self.agent = agent
        self.intake = intake
    }

    // MARK: Starting

    /// Reads and checks the file and the page's state file after it: the configuration (nil
    /// when it cannot be read), and every problem as `FILE:LINE: reason` (the configuration
    /// must not be used when there is one).
    static func load(_ path: String) -> (configuration: Configuration?, problems: [String]) {
        Configuration.load(path, defaultSpool: defaultSpool, now: Int64(time(nil)))
    }

    /// Starts the daemon: the agent on the spool (refused while another holds it), its
    /// recipients, the intake, then delivery and the thread that moves events out of the intake.
    static func start(_ configuration: Configuration) throws(ConfigError) -> Daemon {
        let configPath = configuration.configPath, file = configuration.file
        let link = IntakeLink()
        var environment = AgentEnvironment(version: OE_VERSION_STRING)
        environment.numberedByIntake = true
        environment.publishStatus = { link.intake.withLock { $0 }?.publishStatus($0) }
        environment.intakeDropped = { link.intake.withLock { $0 }?.dropped ?? 0 }
        environment.beforeSync = { link.intake.withLock { $0 }?.taken ?? 0 }
        environment.afterSync = { link.synced(upTo: $0) }
        // Delivery, and with it the status, starts once the file is applied.
        environment.startThread = false
        let agent: Agent
        do {
            agent = try Agent(settings: file.agentSettingsOnly.map { ($0.key, $0.value) }, environment: environment)
        } catch {
            let line = SettingsFile.line(of: error.message, in: file.agent, default: 1)
            throw ConfigError(error.code, "\(configuration.location(line)): \(error.message)")
        }
        for recipient in file.recipients {
            do throws(ConfigError) { try put(recipient, into: agent) } catch {
                agent.close()
                let line = SettingsFile.line(of: error.message, in: recipient.settings, default: recipient.line)
                throw ConfigError(error.code, "\(configuration.location(line)): \(error.message)")
            }
        }
        let spool = file.agent.last { $0.key == "queue.spool" }!.value
        var settings = AgentSettings()
        try? settings.apply(file.agentSettingsOnly.map { ($0.key, $0.value) })
        var notes: [String] = []
        let intake: IntakeFile
        do throws(ConfigError) {
            intake = try IntakeFile.openForDaemon(spool: spool, capacity: settings.queueCapacity, now: Int64(time(nil)),
                                                  notes: &notes)
            guard intake.holdRunningMark() else {
                throw ConfigError(.io, "queue.spool: \(intake.path) is in use by another daemon")
            }
            // A producer that found no daemon a moment ago may still be evicting the oldest
            // frame (drop_oldest, intake full): it finishes within microseconds.
            usleep(10_000)
            // Read from the room not yet given back: what a power cut took from the spool is
            // moved again; numbering goes on past every number given before.
            intake.resumeReading()
            guard intake.restartNumbering(atLeast: agent.nextSequence) else {
                throw ConfigError(.io, "queue.spool: cannot write \(intake.path) to disk:"
                                           + " \(String(cString: strerror(csystem_errno())))")
            }
        } catch {
            agent.close()
            throw error
        }
        for note in notes { agent.log(LogEntry(.warning, .intakeProblem, note, fields: [("OE_ERROR", note)])) }
        let daemon = Daemon(configuration: configuration, agent: agent, intake: intake)
        daemon.applyToIntake(file)
        link.intake.withLock { $0 = intake }
        do { try agent.startDelivery() } catch {
            agent.close()
            throw error
        }
        try daemon.startThread()
        do {
            daemon.admin = try AdminServer.start(daemon)
        } catch {
            daemon.stop()
            throw error
        }
        agent.log(LogEntry(.info, .daemonStarted,
                           "outbound-eventsd \(OE_VERSION_STRING) started: \(file.recipients.count) recipients,"
                               + " queue \(spool), configuration \(configPath)",
                           fields: [("OE_CONFIG", configPath), ("OE_SPOOL", spool)]))
        return daemon
    }

    static func put(_ recipient: SettingsFile.Recipient, into agent: Agent) throws(ConfigError) {
        let pairs = recipient.settings.map { (key: $0.key, value: $0.value) }
        switch recipient.kind {
        case .http: try agent.putHTTPRecipient(recipient.name, pairs)
        case .email: try agent.putEmailRecipient(recipient.name, pairs)
        }
    }

    /// What producers follow: the overflow policy, the largest event and the sync interval.
    func applyToIntake(_ file: SettingsFile) {
        var settings = AgentSettings()
        try? settings.apply(file.agentSettingsOnly.map { ($0.key, $0.value) })
        intake.policy = settings.queueOverflow
        intake.largestEvent = agent.maxEventSize
        intake.syncInterval = settings.syncInterval
    }

    // MARK: Moving events

    func startThread() throws(ConfigError) {
        guard let handle = Locking.startThread({ self.moveEvents() }) else {
            throw ConfigError(.noMemory, "cannot start the intake thread")
        }
        thread = handle
    }

    /// The intake thread: moves events into the agent's queue as producers write them, and
    /// tells producers waiting in flush how far delivery has come.
    func moveEvents() {
        var lastWarning: Int64 = 0
        var damaged = 0
        var pause: UInt32 = 1000
        while !stopping.withLock({ $0 }) {
            let taken = intake.take(limit: Self.batch, floor: agent.nextSequence, now: ConditionLock.now()) {
                agent.accept($0)
            }
            for pid in taken.abandoned {
                let note = pid == 0
                    ? "a producer reserved room for an event in \(intake.path) and did not write it within 1 s"
                        + " (killed, or stopped): the room was skipped (the event was never acknowledged;"
                        + " a producer still alive writes it again further on); \(intake.abandoned) such records"
                        + " since the intake was made"
                    : "a producer (pid \(pid)) died while writing an event into \(intake.path): its unfinished record"
                        + " was skipped (never acknowledged, so nothing is lost); \(intake.abandoned) such records"
                        + " since the intake was made"
                var fields: [(name: String, value: String)] = [("OE_SPOOL", agent.spoolPath)]
                if pid != 0 { fields.append(("OE_PID", String(pid))) }
                agent.log(LogEntry(.warning, .writerAbandoned, note, fields: fields))
            }
            // With `reject`, room goes back to producers only after a spool sync: with the
            // intake more than half held, the next sync starts now, not at the interval's end.
            // (With `drop_oldest` producers give back the room of moved events themselves.)
            if intake.policy == .reject && intake.held > UInt64(intake.capacity / 2) { agent.syncSoon() }
            damaged += taken.damaged
            var problems: [String] = []
            if damaged > 0 {
                problems.append("the intake \(intake.path) holds \(damaged) damaged records"
                                    + " (changed by something else than a producer); they were skipped")
            }
            let undeclared = agent.takeUndeclaredIntakeEvents()
            if undeclared > 0 {
                problems.append("\(undeclared) events from producers have a type the daemon's firmware profile"
                                    + " does not declare; no recipient gets them")
            }
            let now = Int64(time(nil))
            if !problems.isEmpty && now - lastWarning >= 60 {
                lastWarning = now
                damaged = 0
                for problem in problems {
                    agent.log(LogEntry(.warning, .intakeProblem, problem, fields: [("OE_ERROR", problem)]))
                }
            }
            intake.publishDone(before: min(taken.oldest, agent.deliveredBefore()))
            if taken.full {
                // The queue is full and refuses (queue.overflow = reject): the events wait in
                // the intake until deliveries make room.
                usleep(50_000)
            } else if taken.waiting {
                // A producer is writing its frame (microseconds), or one died doing it: look
                // again soon, less often the longer it lasts.
                usleep(pause)
                pause = min(pause * 2, 50_000)
                continue
            } else if !taken.left {
                intake.sleep(timeout: intake.hasFlushWaiters ? 10 : 1000) { stopping.withLock { $0 } }
                // Awake a moment before taking: producers emitting meanwhile find the daemon
                // awake and pay no wake-up each (a futex call), and the next take is a batch.
                usleep(Self.coalesce)
            }
            pause = 1000
        }
        // What producers wrote until now goes into the queue (and so the spool) before close.
        while intake.take(limit: Int.max, floor: agent.nextSequence, now: ConditionLock.now(),
                          { agent.accept($0) }).moved > 0 {}
    }

    // MARK: Signals

    /// Stops like `oe_agent_close`: the intake thread first (what waits there stays for the
    /// next start), then the agent.
    func stop() {
        admin?.stop()
        admin = nil  // it holds the daemon
        stopping.withLock { $0 = true }
        intake.wakeDaemon()
        pthread_join(thread, nil)
        agent.close()
        // The spool is closed and synced: all the intake's room can be given back.
        intake.release(upTo: intake.taken)
        intake.sync()
    }

    /// SIGHUP: re-reads the file and applies the difference, or nothing (every problem logged
    /// as `FILE:LINE: reason`).
    func reload() {
        applying.withLock { _ in _ = reloadApplying() }
    }

    /// The reload, with `applying` held (the page applies its changes through it too): true
    /// when the files were applied.
    func reloadApplying() -> Bool {
        let (loaded, problems) = Self.load(configPath)
        var refusals = problems
        if let loaded {
            refusals += fixedChanges(loaded.file)
        }
        guard let configuration = loaded, case let file = configuration.file, refusals.isEmpty else {
            refusals.sort { Self.lineNumber($0) < Self.lineNumber($1) }
            for problem in refusals {
                agent.log(LogEntry(.error, .reloadRefused, problem,
                                   fields: [("OE_CONFIG", configPath), ("OE_ERROR", problem)]))
            }
            let summary = "configuration \(configPath) not reloaded:"
                + " \(refusals.count) problem\(refusals.count == 1 ? "" : "s") (logged above);"
                + " the previous configuration is kept"
            agent.log(LogEntry(.error, .reloadRefused, summary,
                               fields: [("OE_CONFIG", configPath), ("OE_ERROR", summary)]))
            return false
        }
        var changes: [String] = []
        do throws(ConfigError) {
            try agent.replaceSettings(file.agentSettingsOnly.map { ($0.key, $0.value) })
        } catch {
            let line = SettingsFile.line(of: error.message, in: file.agent, default: 1)
            let problem = "\(configuration.location(line)): \(error.message)"
            agent.log(LogEntry(.error, .reloadRefused,
                               "configuration not reloaded: \(problem); the previous configuration is kept",
                               fields: [("OE_CONFIG", configPath), ("OE_ERROR", problem)]))
            return false
        }
        if settingPairs(file.agent) != settingPairs(current.agent) { changes.append("settings changed") }
        for old in current.recipients
            where !file.recipients.contains(where: { $0.name == old.name && $0.kind == old.kind }) {
            _ = agent.removeRecipient(old.name)
            changes.append("-\(old.name)")
        }
        for recipient in file.recipients {
            let old = current.recipients.first { $0.name == recipient.name && $0.kind == recipient.kind }
            if let old, settingPairs(old.settings) == settingPairs(recipient.settings) { continue }
            do throws(ConfigError) {
                try Self.put(recipient, into: agent)
                changes.append(old == nil ? "+\(recipient.name)" : "~\(recipient.name)")
            } catch {
                // Checked above, so only what changed since (a certificate that expired meanwhile).
                let line = SettingsFile.line(of: error.message, in: recipient.settings, default: recipient.line)
                let problem = "\(configuration.location(line)): \(error.message)"
                agent.log(LogEntry(.error, .reloadRefused,
                                   "recipient \(Values.quote(recipient.name)) not applied: \(problem)",
                                   fields: [("OE_CONFIG", configPath), ("OE_ERROR", problem)]))
            }
        }
        applyToIntake(file)
        current = file
        self.configuration = configuration
        admin?.configurationChanged(configuration)
        let summary = changes.isEmpty ? "nothing changed" : changes.joined(separator: ", ")
        agent.log(LogEntry(.info, .reloadApplied, "configuration \(configPath) reloaded: \(summary)",
                           fields: [("OE_CONFIG", configPath), ("OE_CHANGES", summary)]))
        return true
    }

    /// The line of a `FILE:LINE: reason` problem, for sorting.
    static func lineNumber(_ problem: String) -> Int {
        let afterFile = problem.split(separator: ":", maxSplits: 2)
        return afterFile.count > 1 ? Int(afterFile[1]) ?? 0 : 0
    }

    /// Settings fixed at start that the new file changes, as `FILE:LINE: reason`.
    func fixedChanges(_ file: SettingsFile) -> [String] {
        var problems: [String] = []
        for key in AgentSettings.fixedAtCreation.union(AdminSettings.fixedAtStart).sorted() {
            let before = current.agent.last { $0.key == key }?.value ?? ""
            let after = file.agent.last { $0.key == key }
            guard (after?.value ?? "") != before else { continue }
            problems.append("\(configuration.location(after?.line ?? 1)): \(key): fixed when the daemon starts;"
                                + " restart it (systemctl restart outbound-events) to change it")
        }
        return problems
    }

    func settingPairs(_ settings: [SettingsFile.Setting]) -> [String] {
        settings.map { "\($0.key)=\($0.value)" }
    }
}

/// The intake as the agent's callbacks reach it, once it is open: the status for producers,
/// the intake's drops, and what a spool sync makes durable.
final class IntakeLink: Sendable {
    let intake = Locked<IntakeFile?>(nil)

    /// After a spool sync: the room of the events it made durable goes back to producers, the
    /// intake's numbers are reserved ahead, and the intake is synced too.
    func synced(upTo position: UInt64) {
        guard let intake = intake.withLock({ $0 }) else { return }
        intake.release(upTo: position)
        intake.reserveAhead()
        intake.sync()
    }
}

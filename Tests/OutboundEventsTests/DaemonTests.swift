import COutboundEvents
import Foundation
import OutboundEvents
import OutboundEventsAgent
import OutboundEventsCore
import Testing

// Appliance mode (SPEC 9): outbound-eventsd run directly (no systemd), producers as C programs
// linking the shipped library (Tests/CABI/producer_child.c), real receivers and a real relay.

/// The C producer of these tests.
let producerChild = buildCProgram("producer_child")

/// outbound-eventsd on a configuration file of its own, logging to standard error (kept in a file).
/// The daemon is the one OE_DAEMON names (make test: the shipped, Embedded Swift build of make
/// lib), else the normal-mode one of swift build.
final class DaemonProcess: @unchecked Sendable {
    static let binary = ProcessInfo.processInfo.environment["OE_DAEMON"]
        ?? repositoryRoot + "/.build/debug/outbound-eventsd"
    let directory: URL
    let config: String
    let spool: String
    let logFile: String
    var process: Process?
    /// Where the daemon sends its sd_notify messages (NOTIFY_SOCKET), when a test listens.
    var notifySocket: String?

    /// `body` is the configuration after the spool, status and log settings this adds.
    init(_ body: String, directory: URL = temporaryDirectory("daemon"), start: Bool = true) throws {
        precondition(FileManager.default.fileExists(atPath: Self.binary),
                     "build the daemon first (make lib, or swift build)")
        self.directory = directory
        config = directory.path + "/outbound-events.conf"
        spool = directory.path + "/queue"
        logFile = directory.path + "/daemon.log"
        write(body)
        if start { try self.start() }
    }

    func write(_ body: String) {
        let text = """
            queue.spool = \(spool)
            status.path = \(directory.path)/status.json
            log.destination = stderr
            shutdown_timeout = 1s

            """ + body
        try! text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Starts the daemon and waits until it has said it started.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--config", config]
        if let notifySocket {
            process.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": notifySocket]) { $1 }
        }
        if !FileManager.default.fileExists(atPath: logFile) {
            FileManager.default.createFile(atPath: logFile, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let started = waitUntil(10) {
            log.components(separatedBy: " started: ").count - 1 > starts || !process.isRunning
        }
        starts += 1
        guard started, process.isRunning else { throw ConfigError(.io, "outbound-eventsd did not start: \(log)") }
    }

    var starts = 0
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
    var pid: Int32 { process!.processIdentifier }

    func signal(_ number: Int32) { kill(pid, number) }

    /// SIGTERM; returns the exit status and how long it took. A daemon still running 30 s on
    /// is killed, and the status is then -1.
    @discardableResult
    func stop() -> (status: Int32, seconds: Double) {
        guard let process, process.isRunning else { return (process?.terminationStatus ?? 0, 0) }
        let began = Date()
        signal(SIGTERM)
        let ended = waitUntil(30) { !process.isRunning }
        if !ended { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
        return (ended ? process.terminationStatus : -1, Date().timeIntervalSince(began))
    }

    func killHard() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A producer_child run: its acknowledged event numbers once it has ended or been killed.
final class ProducerRun: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let errors = Pipe()
    let id: String

    /// `quiet`: standard error goes nowhere (a run refused many times would fill the pipe).
    init(spool: String, id: String, count: Int, then mode: [String] = [], environment: [String: String] = [:],
         quiet: Bool = false) throws {
        self.id = id
        process.executableURL = URL(fileURLWithPath: producerChild)
        process.arguments = [spool, id, String(count)] + mode
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = output
        process.standardError = quiet ? FileHandle.nullDevice : errors
        try process.run()
    }

    /// Waits for the end; returns the lines of standard output.
    func finish() -> [String] {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func acknowledged() -> [Int] {
        finish().compactMap { $0.hasPrefix("ok ") ? Int($0.dropFirst(3)) : nil }
    }

    /// The state letter of /proc/PID/stat: "T" while stopped, nil once reaped.
    var state: String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return nil }
        return String(stat[close.upperBound...].prefix(1))
    }

    var errorText: String { String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }

    /// Whether it exited with status 0 (not killed by a signal, nor a Swift trap in the library).
    var endedNormally: Bool { process.terminationReason == .exit && process.terminationStatus == 0 }
}

extension Array where Element == Int {
    /// Each number above the one before: in emit order, none twice.
    var isIncreasing: Bool { zip(self, dropFirst()).allSatisfy { $0 < $1 } }
}

extension Receiver {
    /// The events received, per producer, as (n, webhook-id), in arrival order.
    func byProducer() -> [String: [(n: Int, id: String)]] {
        var result: [String: [(n: Int, id: String)]] = [:]
        for request in requests {
            guard let producer = request.field("producer"),
                  let n = request.field("n").flatMap({ Int($0) }) else { continue }
            result[producer, default: []].append((n, request.headers["webhook-id"] ?? ""))
        }
        return result
    }
}

@Suite("Appliance mode: outbound-eventsd and its producers", .serialized)
struct DaemonTests {
    /// The sanitizer runs (make test-sanitizers) set OE_DAEMON_QUICK: the daemon and producers
    /// are not instrumented there, so fewer events and producers keep those runs short; make
    /// test runs the full numbers.
    static let quick = ProcessInfo.processInfo.environment["OE_DAEMON_QUICK"] != nil
    let perProducer = quick ? 2_000 : 10_000
    let killRounds = quick ? 2 : 10


    @Test("three producers x 10,000 events reach one receiver: every one, each producer's order kept, distinct ids")
    func threeProducers() throws {
        let receiver = try Receiver()
        let daemon = try DaemonProcess("[http hook]\nurl = \(receiver.url)\n")
        let runs = try (0..<3).map {
            try ProducerRun(spool: daemon.spool, id: "p\($0)", count: perProducer, then: ["flush", "120000"])
        }
        for run in runs {
            let lines = run.finish()
            #expect(lines.filter { $0.hasPrefix("ok ") }.count == perProducer, "\(run.id): \(run.errorText)")
            #expect(lines.last == "flush 0", "\(run.id): oe_agent_flush waits for the daemon's delivery")
        }
        let received = receiver.byProducer()
        var ids = Set<String>()
        for run in runs {
            let events = received[run.id] ?? []
            #expect(events.map(\.n) == Array(0..<perProducer),
                    "\(run.id): all arrive, in the order emitted (\(events.count) arrived)")
            ids.formUnion(events.map(\.id))
        }
        #expect(ids.count == 3 * perProducer, "every event has an id of its own")
        #expect(daemon.stop().status == 0)
    }

    @Test("hundreds of laps of a small intake with drop_oldest and no daemon: an earlier lap's bytes never pass for a frame, so no claim is left unmarked; what the daemon finds then arrives in order")
    func manyLaps() throws {
        let receiver = try Receiver()
        let daemon = try DaemonProcess("queue.capacity = 64KiB\n[http hook]\nurl = \(receiver.url)\n")
        #expect(daemon.stop().status == 0)
        // About 100 bytes a frame: 2 x 100,000 events go round the 64 KiB ring about 300 times.
        let count = Self.quick ? 20_000 : 100_000
        let runs = try (0..<2).map { try ProducerRun(spool: daemon.spool, id: "lap\($0)", count: count, quiet: true) }
        for run in runs {
            // A producer that finds the oldest frame still being written waits for it only a
            // moment: on a loaded machine (the sanitizer runs) some emits are refused then.
            let accepted = run.finish().filter { $0.hasPrefix("ok ") }.count
            #expect(accepted > count / 10, "\(run.id): emits accepted (\(accepted) of \(count))")
            #expect(run.endedNormally, "\(run.id): the producer ends normally")
        }
        try daemon.start()
        let producer = try Producer(settings: [("queue.attach", daemon.spool), ("log.destination", "none")],
                                    environment: AgentEnvironment(version: "1.0.0"))
        #expect(producer.flush(timeout: 60_000) == .ok, "the daemon delivers what the intake holds")
        let received = receiver.byProducer()
        for run in runs {
            let numbers = (received[run.id] ?? []).map(\.n)
            #expect(numbers.isIncreasing, "\(run.id): in emit order, none twice")
        }
        #expect(received.values.map(\.count).reduce(0, +) > 100, "the ring's last lap arrives")
        #expect(!daemon.log.contains("did not write it within 1 s"),
                "no claim left unmarked: \(daemon.log.suffix(400))")
        #expect(daemon.stop().status == 0)
    }

    @Test("drop_oldest with the daemon running: producers writing faster than it moves are not refused, the oldest events give way, each counted once, and what arrives keeps each producer's order")
    func fullIntakeDropsOldest() throws {
        let receiver = try Receiver()
        // About 100 bytes a frame: a 64 KiB intake holds some 600 events, and two producers
        // write many times that as fast as they can, faster than the daemon moves them.
        let daemon = try DaemonProcess("queue.capacity = 64KiB\nqueue.overflow = drop_oldest\n"
                                           + "[http hook]\nurl = \(receiver.url)\n")
        let count = Self.quick ? 5_000 : 50_000
        let runs = try (0..<2).map {
            try ProducerRun(spool: daemon.spool, id: "full\($0)", count: count, then: ["flush", "120000"], quiet: true)
        }
        var accepted = 0
        for run in runs {
            let lines = run.finish()
            let ok = lines.filter { $0.hasPrefix("ok ") }.count
            // A refusal is left only for the oldest frame still being written 20 ms on (its
            // writer, or the daemon queueing it, preempted that long).
            #expect(ok * 100 >= count * 99, "\(run.id): accepted \(ok) of \(count)")
            #expect(lines.last == "flush 0", "\(run.id): the flush ends")
            #expect(run.endedNormally, "\(run.id): the producer ends normally")
            accepted += ok
        }
        let received = receiver.byProducer()
        var ids = Set<String>()
        for run in runs {
            let events = received[run.id] ?? []
            let numbers = events.map(\.n)
            #expect(numbers.isIncreasing, "\(run.id): in emit order, none twice")
            ids.formUnion(events.map(\.id))
        }
        let arrived = received.values.map(\.count).reduce(0, +)
        #expect(ids.count == arrived, "every event has an id of its own")
        #expect(arrived < accepted, "the intake overflowed: \(arrived) of \(accepted) arrived")
        // Every accepted event arrived or is counted: evicted from the intake, or from the
        // daemon's queue before the recipient had it (its own count: the queue's also counts
        // an event evicted while in flight, which still arrives).
        let producer = try Producer(settings: [("queue.attach", daemon.spool), ("log.destination", "none")],
                                    environment: AgentEnvironment(version: "1.0.0"))
        var counted = (intake: 0, queue: 0)
        let balanced = waitUntil(10) {
            guard let status = try? JSONSerialization.jsonObject(with: Data(producer.status().utf8)) as? [String: Any],
                  let queue = status["queue"] as? [String: Any],
                  let recipient = (status["recipients"] as? [[String: Any]])?.first else { return false }
            counted = (queue["intake_dropped"] as? Int ?? -1, recipient["dropped_overflow"] as? Int ?? -1)
            return arrived + counted.intake + counted.queue == accepted
        }
        let sum = "arrived \(arrived) + evicted from the intake \(counted.intake)"
            + " + from the daemon's queue for the recipient \(counted.queue)"
        #expect(balanced, "accepted \(accepted) = \(sum)")
        #expect(counted.intake > 0, "the intake evicted the oldest")
        #expect(!daemon.log.contains("damaged records"), "a frame evicted while the daemon read it is not damage")
        #expect(daemon.stop().status == 0)
    }

    @Test("100 producers SIGKILLed at random moments mid-emit: a healthy producer's events still flow, and every acknowledged event arrives once, in order")
    func killedProducers() throws {
        let receiver = try Receiver()
        // reject: an acknowledged event is never evicted for room, so every one must arrive.
        let daemon = try DaemonProcess("queue.capacity = 16MiB\nqueue.overflow = reject\n"
                                           + "[http hook]\nurl = \(receiver.url)\n")
        var random = SplitMix(seed: 14)
        var acknowledged: [String: [Int]] = [:]
        for round in 0..<killRounds {
            for pair in 0..<5 {
                // Two at a time, so that one often dies holding the intake's lock while the
                // other waits for it; each is killed at a random moment once it has emitted.
                let victims = try (0..<2).map {
                    try ProducerRun(spool: daemon.spool, id: "k\(round)-\(pair)-\($0)", count: 250, then: ["pause"])
                }
                for victim in victims {
                    var seen = Data()
                    while !String(decoding: seen, as: UTF8.self).contains("ok ") {
                        let chunk = victim.output.fileHandleForReading.availableData
                        if chunk.isEmpty { break }
                        seen += chunk
                    }
                    usleep(UInt32(random.next() % 1500))
                    kill(victim.process.processIdentifier, SIGKILL)
                    victim.process.waitUntilExit()
                    let text = String(decoding: seen + victim.output.fileHandleForReading.readDataToEndOfFile(),
                                      as: UTF8.self)
                    acknowledged[victim.id] = text.split(separator: "\n")
                        .compactMap { $0.hasPrefix("ok ") ? Int($0.dropFirst(3)) : nil }
                }
            }
            // A healthy producer after each ten: never blocked by a dead one's lock; its events
            // are delivered in their turn, right after those before them.
            let healthy = try ProducerRun(spool: daemon.spool, id: "healthy\(round)", count: 5,
                                          then: ["flush", "60000"])
            let lines = healthy.finish()
            #expect(lines.filter { $0.hasPrefix("ok ") }.count == 5, "round \(round): \(healthy.errorText)")
            #expect(lines.last == "flush 0", "round \(round): \(lines.suffix(2))")
            #expect((receiver.byProducer()["healthy\(round)"] ?? []).map(\.n) == [0, 1, 2, 3, 4])
        }
        #expect(acknowledged.count == killRounds * 10)
        let received = receiver.byProducer()
        for (id, numbers) in acknowledged {
            let arrived = (received[id] ?? []).map(\.n)
            let lost = Set(numbers).subtracting(arrived)
            #expect(lost.isEmpty,
                    "\(id): \(lost.count) acknowledged events did not arrive, e.g. \(lost.sorted().prefix(5))")
            #expect(arrived == Array(0..<arrived.count),
                    "\(id): in order, none twice, none missing in between (\(arrived.count) arrived)")
        }
        #expect(daemon.stop().status == 0)
    }

    @Test("a producer stopped between its claim and its mark holds the others up about 1 s, then writes its event again when it continues; one killed between its mark and its commit holds them up not at all; each is logged once")
    func stoppedWriters() throws {
        let receiver = try Receiver()
        let daemon = try DaemonProcess("[http hook]\nurl = \(receiver.url)\n")
        // The test hook: the producer stops itself (SIGSTOP) right after claiming room.
        let stalled = try ProducerRun(spool: daemon.spool, id: "stalled", count: 1, then: ["flush", "30000"],
                                      environment: ["OE_TEST_STOP_PRODUCER": "claim"])
        #expect(waitUntil(10) { stalled.state == "T" }, "the producer stopped after its claim")
        let began = Date()
        let healthy = try ProducerRun(spool: daemon.spool, id: "healthy", count: 5, then: ["flush", "30000"])
        #expect(healthy.finish().last == "flush 0", "\(healthy.errorText)")
        let waited = Date().timeIntervalSince(began)
        #expect(waited < 4,
                "the claim never marked is skipped after 1 s (and the daemon's next look): waited \(waited) s")
        #expect((receiver.byProducer()["healthy"] ?? []).map(\.n) == [0, 1, 2, 3, 4])
        #expect(daemon.log.components(separatedBy: "did not write it within 1 s").count - 1 == 1,
                "logged once: \(daemon.log)")
        // Continued, it finds its room padded, claims again and writes its event further on.
        kill(stalled.process.processIdentifier, SIGCONT)
        let lines = stalled.finish()
        #expect(lines.first == "ok 0" && lines.last == "flush 0", "\(lines) \(stalled.errorText)")
        #expect((receiver.byProducer()["stalled"] ?? []).map(\.n) == [0], "its event arrives once")

        // Stopped after its mark: a live writer is waited for; killed, it is skipped at once.
        let killed = try ProducerRun(spool: daemon.spool, id: "killed", count: 1, then: ["pause"],
                                     environment: ["OE_TEST_STOP_PRODUCER": "mark"])
        #expect(waitUntil(10) { killed.state == "T" }, "the producer stopped after its mark")
        let waiting = try ProducerRun(spool: daemon.spool, id: "after", count: 3, then: ["flush", "30000"])
        #expect(waitUntil(10) { waiting.state == "S" || waiting.state == nil })
        usleep(300_000)
        #expect(receiver.byProducer()["after"] == nil, "events after a live writer's frame wait for it")
        let pid = killed.process.processIdentifier
        kill(pid, SIGKILL)
        killed.process.waitUntilExit()
        #expect(waiting.finish().last == "flush 0", "\(waiting.errorText)")
        #expect((receiver.byProducer()["after"] ?? []).map(\.n) == [0, 1, 2])
        #expect(receiver.byProducer()["killed"] == nil, "its event was never acknowledged")
        #expect(daemon.log.components(separatedBy: "(pid \(pid)) died while writing").count - 1 == 1,
                "logged once: \(daemon.log)")
        #expect(daemon.log.contains("2 such records since the intake was made"))
        #expect(daemon.stop().status == 0)
    }

    @Test("daemon stopped: producers' emits succeed, status says stopped, and the events arrive after it starts")
    func daemonStopped() throws {
        let receiver = try Receiver()
        let daemon = try DaemonProcess("[http hook]\nurl = \(receiver.url)\n")
        #expect(daemon.stop().status == 0)
        let producer = try Producer(settings: [("queue.attach", daemon.spool), ("log.destination", "none")],
                                    environment: AgentEnvironment(version: "1.0.0"))
        #expect(statusField(producer.status(), "daemon") == "stopped")
        let run = try ProducerRun(spool: daemon.spool, id: "s", count: 200)
        #expect(run.acknowledged().count == 200, "emits succeed while the daemon is stopped")
        #expect(producer.flush(timeout: 200) == .timedOut, "nobody delivers while the daemon is stopped")
        #expect(receiver.requests.isEmpty)
        try daemon.start()
        #expect(producer.flush(timeout: 30_000) == .ok)
        #expect((receiver.byProducer()["s"] ?? []).map(\.n) == Array(0..<200))
        #expect(waitUntil(10) { statusField(producer.status(), "daemon") == "running" })
        #expect(daemon.stop().status == 0)
    }

    @Test("daemon SIGKILLed and restarted while producers emit: nothing acknowledged is lost, a duplicate keeps its webhook-id")
    func daemonKilled() throws {
        let receiver = try Receiver()
        // Room for every event: none is evicted, so every acknowledged one must arrive.
        let daemon = try DaemonProcess("queue.capacity = 16MiB\n[http hook]\nurl = \(receiver.url)\n")
        let runs = try (0..<3).map { try ProducerRun(spool: daemon.spool, id: "d\($0)", count: 8_000) }
        usleep(150_000)
        daemon.killHard()
        usleep(100_000)
        try daemon.start()
        var acknowledged: [String: [Int]] = [:]
        for run in runs { acknowledged[run.id] = run.acknowledged() }
        let producer = try Producer(settings: [("queue.attach", daemon.spool), ("log.destination", "none")],
                                    environment: AgentEnvironment(version: "1.0.0"))
        #expect(producer.flush(timeout: 120_000) == .ok)
        let received = receiver.byProducer()
        var duplicates = 0
        for (id, numbers) in acknowledged {
            #expect(numbers.count == 8_000, "\(id): every emit acknowledged")
            let arrived = received[id] ?? []
            var idOf: [Int: String] = [:]
            for event in arrived {
                if let earlier = idOf[event.n] {
                    duplicates += 1
                    #expect(earlier == event.id, "a duplicate carries the same webhook-id")
                }
                idOf[event.n] = event.id
            }
            let lost = Set(numbers).subtracting(idOf.keys)
            #expect(lost.isEmpty,
                    "\(id): \(lost.count) acknowledged events did not arrive, e.g. \(lost.sorted().prefix(5))")
        }
        #expect(duplicates <= 1, "at most one duplicate per recipient per crash")
        #expect(daemon.stop().status == 0)
    }

    @Test("SIGHUP: an added recipient gets only events emitted after the reload; a broken file is not applied and says FILE:LINE; sd_notify READY, RELOADING, READY, STOPPING")
    func reload() throws {
        let first = try Receiver(), second = try Receiver()
        let daemon = try DaemonProcess("[http one]\nurl = \(first.url)\n", start: false)
        let notify = NotifyListener(daemon.directory.path + "/notify")
        daemon.notifySocket = notify.path
        try daemon.start()
        #expect(notify.wait(for: 1).first?.hasPrefix("READY=1") == true, "sd_notify READY=1 once started")
        let before = try ProducerRun(spool: daemon.spool, id: "before", count: 10, then: ["flush", "10000"])
        #expect(before.finish().last == "flush 0", "\(before.errorText)")

        // Broken: an unknown key and a changed queue.capacity. Nothing of it is applied.
        daemon.write("queue.capacity = 8MiB\n[http one]\nurl = \(first.url)\n"
                         + "[http two]\nurl = \(second.url)\ncolour = blue\n")
        daemon.signal(SIGHUP)
        #expect(waitUntil(10) { daemon.log.contains("not reloaded") })
        #expect(daemon.log.contains("\(daemon.config):5: queue.capacity: fixed when the daemon starts"),
                "\(daemon.log)")
        #expect(daemon.log.contains("\(daemon.config):10: "), "the unknown key's line")
        #expect(try ProducerRun(spool: daemon.spool, id: "broken", count: 10, then: ["flush", "10000"])
                    .finish().last == "flush 0")
        #expect(second.requests.isEmpty, "the broken file's recipient was not added")

        // Fixed: the new recipient gets what is emitted from now on, the old one everything.
        daemon.write("[http one]\nurl = \(first.url)\n[http two]\nurl = \(second.url)\n")
        daemon.signal(SIGHUP)
        #expect(waitUntil(10) { daemon.log.contains("reloaded: +two") }, "\(daemon.log)")
        let told = notify.wait(for: 5)
        #expect(told.count == 5 && told[1].hasPrefix("RELOADING=1") && told[2].hasPrefix("READY=1")
                    && told[3].hasPrefix("RELOADING=1") && told[4].hasPrefix("READY=1"),
                "RELOADING=1 then READY=1 around each reload, the broken one included: \(told)")
        #expect(try ProducerRun(spool: daemon.spool, id: "after", count: 10, then: ["flush", "10000"])
                    .finish().last == "flush 0")
        #expect(Set(first.byProducer().keys) == ["before", "broken", "after"])
        #expect(Set(second.byProducer().keys) == ["after"])

        // Removed: its pending events are discarded, the other keeps receiving.
        daemon.write("[http two]\nurl = \(second.url)\n")
        daemon.signal(SIGHUP)
        #expect(waitUntil(10) { daemon.log.contains("reloaded: -one") }, "\(daemon.log)")
        #expect(try ProducerRun(spool: daemon.spool, id: "last", count: 3, then: ["flush", "10000"])
                    .finish().last == "flush 0")
        #expect(first.byProducer()["last"] == nil && second.byProducer()["last"]?.count == 3)
        #expect(daemon.stop().status == 0)
        #expect(notify.wait(for: 8).last?.hasPrefix("STOPPING=1") == true, "sd_notify STOPPING=1 on SIGTERM")
    }

    @Test("one failure alert email for a dead recipient while three producers emit")
    func oneAlertStream() throws {
        let relay = try SMTPRelay()
        let dead = try Receiver(control: "500")
        let smtp = relay.settings().map { "\($0.0) = \($0.1)" }.joined(separator: "\n")
        let daemon = try DaemonProcess("""
            \(smtp)
            [http dead]
            url = \(dead.url)
            retry_interval = 100ms
            email_contacts = oncall@example.com
            email_alert_after = 1s

            """)
        let runs = try (0..<3).map { try ProducerRun(spool: daemon.spool, id: "a\($0)", count: 50) }
        for run in runs { #expect(run.acknowledged().count == 50, "\(run.errorText)") }
        #expect(waitUntil(20) { relay.messages.count >= 1 })
        Thread.sleep(forTimeInterval: 2)
        #expect(relay.messages.count == 1, "one alert for the appliance, not one per producer")
        #expect(relay.messages.first?.to == ["oncall@example.com"])
        #expect(daemon.stop().status == 0)
    }

    @Test("one daemon per spool; SIGTERM exits 0 within shutdown_timeout + 1 s; a bad file stops the start with FILE:LINE")
    func startAndStop() throws {
        let receiver = try Receiver(control: "hang")
        let daemon = try DaemonProcess("[http hook]\nurl = \(receiver.url)\n")
        let other = daemon.directory.appendingPathComponent("second")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let second = try DaemonProcess("", directory: other, start: false)
        try "queue.spool = \(daemon.spool)\nlog.destination = stderr\n"
            .write(toFile: second.config, atomically: true, encoding: .utf8)
        let refused = try runChild(DaemonProcess.binary, ["--config", second.config], timeout: 10)
        #expect(refused.status == 1)
        #expect(refused.err.contains("\(daemon.spool) is in use by another agent"), "\(refused.err)")

        try "queue.spool = \(daemon.spool)\nqueue.overflow = sometimes\n"
            .write(toFile: second.config, atomically: true, encoding: .utf8)
        let bad = try runChild(DaemonProcess.binary, ["--config", second.config], timeout: 10)
        #expect(bad.status == 1)
        #expect(bad.err.contains("\(second.config):2: queue.overflow"), "\(bad.err)")

        // A delivery hangs (the receiver never answers) while it stops.
        #expect(try ProducerRun(spool: daemon.spool, id: "t", count: 1).acknowledged() == [0])
        Thread.sleep(forTimeInterval: 0.5)  // the delivery is in flight, never answered ("hang" logs nothing)
        let (status, seconds) = daemon.stop()
        #expect(status == 0)
        #expect(seconds < 2.0, "shutdown_timeout (1 s) + 1 s")
    }

    @Test("a status never shows a state the configuration does not have: from the first status file written at start, every recipient of the file is listed")
    func statusAfterConfiguring() throws {
        let receiver = try Receiver()
        let names = (0..<40).map { "hook\($0)" }
        let daemon = try DaemonProcess(names.map { "[http \($0)]\nurl = \(receiver.url)\n" }.joined(), start: false)
        for round in 0..<3 {
            let watch = StatusWatch(daemon.directory.path + "/status.json")
            try daemon.start()
            let seen = watch.stop()
            #expect(!seen.isEmpty, "round \(round): the status file is written at start")
            #expect(seen.allSatisfy { $0 == names.count },
                    "round \(round): recipients in each status file seen: \(seen)")
            #expect(daemon.stop().status == 0)
            try FileManager.default.removeItem(atPath: watch.path)
        }
    }

    @Test("a producer: attach to a missing spool names it; configuration calls are OE_ESTATE; status is the daemon's")
    func producerFace() throws {
        let directory = temporaryDirectory("attach")
        let missing = directory.path + "/nowhere/queue"
        var err = [CChar](repeating: 0, count: 512)
        let refused = ["queue.attach": missing].withKV { oe_agent_new($0, $1, &err, err.count) }
        #expect(refused == nil)
        #expect(String(cString: err).contains(missing))

        let receiver = try Receiver()
        let daemon = try DaemonProcess("appliance_id = one-appliance\n[http hook]\nurl = \(receiver.url)\n")
        let wrong = ["queue.attach": daemon.spool, "smtp.host": "relay.example"]
            .withKV { oe_agent_new($0, $1, &err, err.count) }
        #expect(wrong == nil)
        #expect(String(cString: err).hasPrefix("smtp.host: not a producer's setting"))

        let agent = ["queue.attach": daemon.spool, "log.destination": "none"]
            .withKV { oe_agent_new($0, $1, &err, err.count) }
        #expect(agent != nil, "\(String(cString: err))")
        defer { oe_agent_close(agent) }
        let configured = ["deployment": "cloud"].withKV { oe_agent_configure(agent, $0, $1, &err, err.count) }
        #expect(configured == OE_ESTATE)
        #expect(String(cString: err).contains("the daemon (outbound-eventsd) owns the configuration"))
        let put = ["url": receiver.url].withKV { oe_agent_put_http_recipient(agent, "other", $0, $1, &err, err.count) }
        #expect(put == OE_ESTATE)
        #expect(oe_agent_remove_recipient(agent, "hook") == OE_ESTATE)
        #expect(oe_emit(agent, "not_an_event", nil, 0, nil, 0) == OE_EINVAL,
                "undeclared events are refused by the producer")

        let lsid = oe_kv(key: strdup("lsid"), value: strdup("L1"))
        var variables = [lsid]
        #expect(oe_emit(agent, "support_conference_end", &variables, 1, nil, 0) == OE_OK)
        #expect(oe_agent_flush(agent, 10_000) == OE_OK)
        #expect(receiver.lsids() == ["L1"])
        #expect(waitUntil(10) {
            let size = oe_agent_status_json(agent, nil, 0)
            var buffer = [CChar](repeating: 0, count: size + 1)
            _ = oe_agent_status_json(agent, &buffer, buffer.count)
            let json = String(cString: buffer)
            return statusField(json, "daemon") == "running" && statusField(json, "appliance_id") == "one-appliance"
        }, "the daemon's status, published for producers")
        #expect(daemon.stop().status == 0)
    }

    @Test("the systemd unit: systemd-analyze verify has nothing to say, security exposure 2.5 or lower")
    func unit() throws {
        let result = try runChild("/bin/bash", [repositoryRoot + "/packaging/check-unit.sh"], timeout: 60)
        #expect(result.status == 0, "\(result.out)\(result.err)")
    }
}

/// Reads a status file as often as it can, from before the daemon starts until stopped: the
/// number of recipients of every version of it seen.
final class StatusWatch: @unchecked Sendable {
    let path: String
    let lock = NSLock()
    var counts: [Int] = []
    var running = true
    let done = DispatchSemaphore(value: 0)

    init(_ path: String) {
        self.path = path
        Thread.detachNewThread { [self] in
            var last = Data()
            while lock.withLock({ running }) {
                guard let data = FileManager.default.contents(atPath: path), data != last,
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let recipients = object["recipients"] as? [Any] else { continue }
                last = data
                lock.withLock { counts.append(recipients.count) }
            }
            done.signal()
        }
    }

    /// Stops once a version has been seen (at most 5 s); the counts.
    func stop() -> [Int] {
        _ = waitUntil(5) { lock.withLock { !counts.isEmpty } }
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { counts }
    }
}

/// systemd's side of sd_notify: a datagram socket the daemon's NOTIFY_SOCKET names.
final class NotifyListener {
    let path: String
    let fd: Int32
    var received: [String] = []

    init(_ path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        precondition(bound == 0, "cannot bind \(path)")
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Receives messages until `count` have arrived in all, at most 10 s; returns them all.
    func wait(for count: Int) -> [String] {
        let deadline = Date().addingTimeInterval(10)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < count && Date() < deadline {
            let length = recv(fd, &buffer, buffer.count, 0)
            if length > 0 { received.append(String(decoding: buffer[0..<length], as: UTF8.self)) }
        }
        return received
    }
}

/// A top-level string field of a status document.
func statusField(_ json: String, _ key: String) -> String? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
    return object[key] as? String
}

extension Dictionary where Key == String, Value == String {
    /// The pairs as a C oe_kv array, valid inside `body`.
    func withKV<R>(_ body: (UnsafePointer<oe_kv>, Int) -> R) -> R {
        let pairs = map { oe_kv(key: strdup($0.key), value: strdup($0.value)) }
        defer {
            for pair in pairs {
                free(UnsafeMutablePointer(mutating: pair.key))
                free(UnsafeMutablePointer(mutating: pair.value))
            }
        }
        return pairs.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}

import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// The C child of these tests (Tests/CABI/host_child.c): a firmware service on a spool.
let hostChild = buildCProgram("host_child")

/// A child process's end: normal exit (with its status) or a signal, and what it printed.
struct ChildEnd {
    var signaled: Bool
    var status: Int32
    var out: String
    var err: String
    var exitedNormally: Bool { !signaled && status == 0 }
    var line: String {
        "exit \(signaled ? "by signal" : "status") \(status); stdout: \(out.prefix(600)); stderr: \(err.prefix(600))"
    }
}

func runChild(_ path: String, _ arguments: [String], timeout: Double = 120) throws -> ChildEnd {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = DispatchTime.now() + timeout
    DispatchQueue.global().asyncAfter(deadline: deadline) { if process.isRunning { process.terminate() } }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let error = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ChildEnd(signaled: process.terminationReason == .uncaughtSignal, status: process.terminationStatus,
                    out: String(decoding: output, as: UTF8.self), err: String(decoding: error, as: UTF8.self))
}

/// A real small filesystem (tmpfs of `size`), mounted for one test and unmounted on every exit
/// of it (the tests run as root, as CI does).
final class SmallDisk {
    let path: String

    init(size: String) throws {
        path = temporaryDirectory("disk").path
        let mount = try runChild("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path], timeout: 20)
        guard mount.exitedNormally else {
            throw ConfigError(.io, "cannot mount a \(size) tmpfs on \(path) (the host-safety tests run as root):"
                                       + " \(mount.err)")
        }
    }

    deinit { _ = try? runChild("/bin/umount", ["-l", path], timeout: 20) }

    /// Writes a file until the filesystem is full, so nothing is left for a sparse page.
    func fill(_ name: String) {
        guard let handle = FileHandle(forWritingAtPath: {
            FileManager.default.createFile(atPath: path + "/" + name, contents: nil)
            return path + "/" + name
        }()) else { return }
        let chunk = Data(repeating: 0x55, count: 4096)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        try? handle.close()
    }
}

/// SPEC 8: whatever the disk, the caller or a relay does, the library never kills, hangs or
/// exposes its host. Each dangerous case runs in a child process whose end is asserted normal.
@Suite("A guest in the firmware's process: host safety")
struct HostSafetyTests {
    @Test("a spool larger than its filesystem: oe_agent_new refuses it, naming the file and the room missing; the process lives")
    func spoolDoesNotFit() throws {
        let disk = try SmallDisk(size: "2m")
        let spool = disk.path + "/queue"
        let end = try runChild(hostChild, [spool, "8MiB", "1000", "200"])
        #expect(end.exitedNormally, "\(end.line)")
        #expect(end.out.hasPrefix("refused queue.spool: not enough room for \(spool)"), "\(end.line)")
        #expect(end.out.contains("more than its filesystem has free"), "\(end.line)")
        #expect(!FileManager.default.fileExists(atPath: spool), "no half-made spool is left behind")
    }

    @Test("a spool whose disk fills up after it was made: emitting wraps the ring without a fault, because its blocks were reserved")
    func diskFillsLater() throws {
        let disk = try SmallDisk(size: "2m")
        let spool = disk.path + "/queue"
        let create = try runChild(hostChild, [spool, "1MiB", "0", "0"])
        #expect(create.exitedNormally && create.out.hasPrefix("emitted 0 0"), "\(create.line)")
        disk.fill("filler")
        // 6 MB of events through a 1 MiB ring: every page of the ring is written, most of them
        // several times.
        let end = try runChild(hostChild, [spool, "1MiB", "6000", "1000"])
        #expect(end.exitedNormally, "\(end.line)")
        #expect(end.out.hasPrefix("emitted 6000 0"), "\(end.line)")

        // Truncated while the disk is full: extending it again cannot be reserved, and is refused.
        #expect(truncate(spool, 64 * 1024) == 0)
        disk.fill("filler-2")
        let refused = try runChild(hostChild, [spool, "1MiB", "10", "100"])
        #expect(refused.exitedNormally, "\(refused.line)")
        #expect(refused.out.hasPrefix("refused queue.spool: not enough room for \(spool)"), "\(refused.line)")
    }

    @Test("after a spool is refused for lack of room, freeing room lets the same process try again: nothing stays open or locked")
    func retryAfterRefusal() throws {
        let disk = try SmallDisk(size: "2m")
        let spool = disk.path + "/queue"
        let filler = disk.path + "/filler"
        FileManager.default.createFile(atPath: filler, contents: Data(repeating: 1, count: 1 << 20))
        /// Descriptors of this process open on the spool file.
        func openOnSpool() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter { fd in
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd)
                return target?.hasPrefix(spool) == true
            }.count
        }
        for _ in 0..<3 {
            do {
                _ = try LiveAgent([("queue.spool", spool), ("queue.capacity", "1536KiB")])
                Issue.record("a spool larger than the room left was accepted")
            } catch let error as ConfigError {
                #expect(error.code == .io && error.message.contains("not enough room"), "\(error.message)")
            }
        }
        #expect(try openOnSpool() == 0, "no descriptor left open on the spool")
        try FileManager.default.removeItem(atPath: filler)
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "1536KiB")])
        #expect(live.agent.status().contains("\"capacity_bytes\":1572864"))
    }

    @Test("a spool of another capacity that is shorter than its header says: migrated from what the file holds, no fault")
    func truncatedMigration() throws {
        let spool = temporaryDirectory("migrate").path + "/queue"
        let create = try runChild(hostChild, [spool, "1MiB", "400", "100"])
        #expect(create.exitedNormally && create.out.hasPrefix("emitted 400 0"), "\(create.line)")
        // The header (32 KiB) and about the first half of the records survive.
        #expect(truncate(spool, off_t(32768 + 30_000)) == 0)
        let end = try runChild(hostChild, [spool, "2MiB", "0", "0"])
        #expect(end.exitedNormally, "\(end.line)")
        #expect(end.err.contains("migrating its events") && end.err.contains("truncated"), "\(end.line)")
        let queued = try #require(end.out.split(separator: "\n").first { $0.hasPrefix("status ") }.flatMap { line in
            (try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])?["queue"]
                as? [String: Any]
        }?["queued_events"] as? Int)
        #expect(queued > 50 && queued < 400, "the records in what remains are kept: \(queued)")
    }

    @Test("a spool whose header gives an impossible capacity is set aside, never mapped at that size")
    func damagedCapacityField() throws {
        let directory = temporaryDirectory("damaged").path
        let spool = directory + "/queue"
        let create = try runChild(hostChild, [spool, "1MiB", "10", "10"])
        #expect(create.exitedNormally, "\(create.line)")
        let handle = try #require(FileHandle(forUpdatingAtPath: spool))
        try handle.seek(toOffset: 16)
        try handle.write(contentsOf: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        try handle.close()
        let end = try runChild(hostChild, [spool, "1MiB", "10", "10"])
        #expect(end.exitedNormally, "\(end.line)")
        #expect(end.err.contains("its header gives a ring of 1099511627776 bytes"), "\(end.line)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory)
            .contains { $0.hasPrefix("queue.corrupt-") })
    }

    @Test("a stored position whose recipient name is damaged cannot be restored, and the journal says so")
    func unrestorablePosition() throws {
        let spool = temporaryDirectory("unrestorable").path + "/queue"
        let create = try runChild(hostChild, [spool, "1MiB", "5", "10"])
        #expect(create.exitedNormally && create.out.hasPrefix("emitted 5 0"), "\(create.line)")
        // Slot 0 ("dead") keeps its active flag, but its name length says 0 bytes.
        let handle = try #require(FileHandle(forUpdatingAtPath: spool))
        try handle.seek(toOffset: 64 + 10)
        try handle.write(contentsOf: Data([0, 0]))
        try handle.close()
        let end = try runChild(hostChild, [spool, "1MiB", "0", "0"])
        #expect(end.exitedNormally, "\(end.line)")
        #expect(end.err.contains("the stored position of slot 0 cannot be restored"), "\(end.line)")
    }

    @Test("oe_agent_close returns within shutdown_timeout + 1 s while a TLS handshake hangs")
    func closeWhileHandshakeHangs() throws {
        let silent = try SilentListener()
        defer { silent.stop() }
        let live = try LiveAgent([("shutdown_timeout", "1s"), ("http.connect_timeout", "60s"),
                                  ("http.request_timeout", "60s")])
        try live.put("stuck", [("url", "https://127.0.0.1:\(silent.port)/hook"),
                               ("ca_certificate", TestPKI.shared.caPEM)])
        live.emit("support_conference_begin", [("lsid", "1")])
        #expect(waitUntil(5) { silent.connections > 0 }, "the attempt reached the peer")
        Thread.sleep(forTimeInterval: 0.3)
        let start = Date()
        live.agent.close()
        let took = Date().timeIntervalSince(start)
        #expect(took < 2.0, "close took \(took) s")
        #expect(live.log.entries(.eventsLostAtShutdown).count == 1, "the event it could not deliver is logged")
    }

    @Test("a variable name given twice in one emit is refused, naming it")
    func duplicateVariables() throws {
        let live = try LiveAgent()
        try live.put("r", [("url", "http://127.0.0.1:9/")])
        let (code, message) = live.agent.emit("support_conference_begin",
                                              variables: [("lsid", "1"), ("timestamp", "1"), ("timestamp", "2")])
        #expect(code == .invalid)
        #expect(message?.contains("\"timestamp\" given twice") == true, "\(message ?? "")")
        let (custom, why) = live.agent.emit("support_conference_begin", variables: [("lsid", "1")],
                                            customFields: [("region", "a"), ("region", "b")])
        #expect(custom == .invalid && why?.contains("\"region\" given twice") == true)
        // oe_emit has no err: the reason goes to the journal, at most once a minute.
        live.agent.reportRefusedEmit(code, message)
        live.agent.reportRefusedEmit(custom, why)
        let entries = live.log.entries(.eventRefused)
        #expect(entries.count == 1 && entries.first?.message.contains("\"timestamp\" given twice") == true)
    }

    @Test("a name of 64 four-byte scalars is stored whole: its events survive a restart")
    func widestNameSurvivesRestart() throws {
        let spool = temporaryDirectory("names").path + "/queue"
        let name = String(repeating: "\u{10348}", count: 64)
        let receiver = try Receiver(control: "503")
        do {
            let live = try LiveAgent([("queue.spool", spool)])
            try live.put(name, [("url", receiver.url), ("retry_interval", "1h")])
            for i in 0..<3 { live.emit("support_conference_begin", [("lsid", "n\(i)")]) }
            #expect(waitUntil { receiver.requests.count == 1 })
            live.agent.close()
        }
        receiver.setControl("200")
        let live = try LiveAgent([("queue.spool", spool)])
        try live.put(name, [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        // n0 was refused once before the restart, then every event arrived.
        #expect(receiver.lsids() == ["n0", "n0", "n1", "n2"])
        #expect(live.log.entries(.eventsDiscarded).isEmpty)
    }
}

/// A TCP peer on 127.0.0.1 that accepts connections and never says a word: a TLS handshake
/// with it hangs until the client gives up.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let accepted = NSLock()
    private var count = 0
    var connections: Int { accepted.withLock { count } }

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound, listen(listener, 16) == 0 else { throw ConfigError(.io, "cannot listen on 127.0.0.1") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            var held: [Int32] = []
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { break }
                held.append(client)
                accepted.withLock { count += 1 }
            }
            for client in held { close(client) }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

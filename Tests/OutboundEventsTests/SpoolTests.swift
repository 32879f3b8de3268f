import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Spool
import Testing

/// Builds a C program of Tests/CABI against the built library, as firmware would; returns its
/// path. The library is the one OE_C_LIBRARY names (make test: the shipped, Embedded Swift build
/// of make lib), else the normal-mode one of swift build.
func buildCProgram(_ name: String) -> String {
    let directory = temporaryDirectory(name)
    let library = ProcessInfo.processInfo.environment["OE_C_LIBRARY"]
        ?? repositoryRoot + "/.build/debug/liboutbound-events.so"
    precondition(FileManager.default.fileExists(atPath: library), "build the library first (make lib, or swift build)")
    try! FileManager.default.createSymbolicLink(atPath: directory.path + "/liboutbound-events.so.1",
                                                withDestinationPath: library)
    try! FileManager.default.createSymbolicLink(atPath: directory.path + "/liboutbound-events.so",
                                                withDestinationPath: library)
    let binary = directory.path + "/" + name
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
    cc.arguments = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", repositoryRoot + "/include",
                    repositoryRoot + "/Tests/CABI/\(name).c", "-L", directory.path, "-loutbound-events", "-lpthread",
                    "-Wl,-rpath," + directory.path, "-o", binary]
    try! cc.run()
    cc.waitUntilExit()
    precondition(cc.terminationStatus == 0, "\(name).c did not compile")
    return binary
}

/// The C child of the crash tests (Tests/CABI/spool_child.c).
let spoolChild = buildCProgram("spool_child")

/// Runs the child until `killAfter` seconds after its first acknowledged event, then SIGKILLs
/// it. Returns the events (lsids) it saw acknowledged with OE_OK.
func runChildAndKill(spool: String, url: String, count: Int, names: [String], killAfter: Double) throws -> [Int] {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: spoolChild)
    child.arguments = [spool, url, String(count)] + names
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    var received = Data()
    while !String(decoding: received, as: UTF8.self).contains("ok ") {
        let chunk = output.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        received += chunk
    }
    Thread.sleep(forTimeInterval: killAfter)
    kill(child.processIdentifier, SIGKILL)
    child.waitUntilExit()
    received += output.fileHandleForReading.readDataToEndOfFile()
    let text = String(decoding: received, as: UTF8.self)
    return text.split(separator: "\n").compactMap { $0.hasPrefix("ok ") ? Int($0.dropFirst(3)) : nil }
}

@Suite("Nothing lost across a crash: the spool")
struct SpoolTests {
    @Test("SIGKILL at a random moment: a new agent delivers every acknowledged event, in order, at most one duplicate with the same webhook-id",
          arguments: 0..<12)
    func sigkill(seed: Int) throws {
        var random = SplitMix(seed: UInt64(seed))
        let receiverUp = seed % 2 == 1
        let receiver = try Receiver()
        if !receiverUp { receiver.stop() }
        let spool = temporaryDirectory("spool").path + "/events.spool"
        let acknowledged = try runChildAndKill(spool: spool, url: receiver.url, count: 3000, names: ["r"],
                                               killAfter: Double(random.next() % 30) / 1000)
        if !receiverUp { try receiver.restart() }

        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "8MiB")])
        try live.put("r", [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 60_000) == .ok)
        let requests = receiver.requests
        let lsids = requests.map { Int($0.field("lsid")!)! }
        var firstSeen: [Int] = []
        var ids: [Int: String] = [:]
        for (lsid, request) in zip(lsids, requests) {
            let id = request.headers["webhook-id"]!
            if let known = ids[lsid] {
                #expect(known == id, "a duplicate carries the same webhook-id")
            } else {
                ids[lsid] = id
                firstSeen.append(lsid)
            }
        }
        #expect(Set(ids.values).count == ids.count, "every event has its own id")
        #expect(firstSeen == firstSeen.sorted(), "in order")
        let missing = Set(acknowledged).subtracting(firstSeen)
        #expect(missing.isEmpty,
                "seed \(seed): \(missing.count) acknowledged events lost, e.g. \(missing.sorted().prefix(5))")
        #expect(lsids.count - firstSeen.count <= 1, "at most one duplicate per recipient per crash")
        #expect(!acknowledged.isEmpty)
    }

    @Test("a restart resumes each recipient where it was, and says what it recovered")
    func resume() throws {
        let receiver = try Receiver()
        receiver.stop()
        let spool = temporaryDirectory("spool").path + "/events.spool"
        let acknowledged = try runChildAndKill(spool: spool, url: receiver.url, count: 50, names: ["a", "b"],
                                               killAfter: 0.5)
        #expect(acknowledged.count == 50)
        try receiver.restart()
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "8MiB"), ("queue.spool_grace", "300ms")])
        let recovered = try #require(live.log.entries(.spoolRecovered).first)
        #expect(recovered.message.contains("100 undelivered events recovered"))
        #expect(recovered.message.contains("a: 50") && recovered.message.contains("b: 50"))
        try live.put("a", [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == (0..<50).map(String.init))
        // "b" is never configured again: its 50 events go after the grace period, logged.
        #expect(waitUntil(5) {
            live.log.entries(.eventsDiscarded).contains { $0.message.contains("50 events for recipient \"b\"") }
        })
    }

    @Test("a torn or scribbled record costs only the events inside the damage, and is logged")
    func damage() throws {
        let spool = temporaryDirectory("spool").path + "/events.spool"
        do {
            let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "64KiB")])
            try live.put("r", [("url", "http://127.0.0.1:9/"), ("retry_interval", "1h")])
            for i in 0..<20 { live.emit("support_conference_begin", [("lsid", String(i))]) }
        }
        // Scribble over the middle of the 6th record: its checksum no longer matches.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: spool))
        let ring = try #require(try handle.readToEnd()).dropFirst(SpoolHeader.size)
        var offsets: [Int] = []
        var offset = 0
        while offsets.count < 20 {
            let length = Int(ring[ring.startIndex + offset]) | Int(ring[ring.startIndex + offset + 1]) << 8
            offsets.append(offset)
            offset += (length + 7) & ~7
        }
        try handle.seek(toOffset: UInt64(SpoolHeader.size + offsets[5] + 44))
        handle.write(Data([0xDE, 0xAD, 0xBE, 0xEF]))
        try handle.close()

        let receiver = try Receiver()
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "64KiB")])
        try live.put("r", [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == (0..<20).filter { $0 != 5 }.map(String.init))
        let damage = live.log.entries(.spoolDamaged).map(\.message)
        #expect(damage.contains { $0.contains("1 event lost to damaged records") }, "\(damage)")
    }

    @Test("a truncated spool comes up with what is left, and says so")
    func truncated() throws {
        let spool = temporaryDirectory("spool").path + "/events.spool"
        do {
            let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "64KiB")])
            try live.put("r", [("url", "http://127.0.0.1:9/"), ("retry_interval", "1h")])
            for i in 0..<20 {
                live.emit("support_conference_begin",
                          [("lsid", String(i)), ("pad", String(repeating: "x", count: 100))])
            }
        }
        truncate(spool, off_t(SpoolHeader.size + 1000))
        let receiver = try Receiver()
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "64KiB")])
        try live.put("r", [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let delivered = receiver.lsids()
        #expect(!delivered.isEmpty && delivered == (0..<delivered.count).map(String.init))
        #expect(live.log.entries(.spoolDamaged).contains { $0.message.contains("truncated") })
    }

    @Test("a spool of another layout version is set aside under a new name, never deleted")
    func incompatible() throws {
        let directory = temporaryDirectory("spool").path
        let spool = directory + "/events.spool"
        var bytes = [UInt8](repeating: 0, count: SpoolHeader.size + 4096)
        bytes.replaceSubrange(0..<8, with: SpoolHeader.magic)
        bytes[8] = 99
        FileManager.default.createFile(atPath: spool, contents: Data(bytes))
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "4096")])
        let note = try #require(live.log.entries(.spoolDamaged).first?.message)
        #expect(note.contains("layout version 99") && note.contains("kept as \(spool).incompatible-"))
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("events.spool.incompatible-") }
        #expect(kept.count == 1)
        #expect(live.emit() == .ok)
    }

    @Test("a spool of another capacity is migrated with its events")
    func migrate() throws {
        let spool = temporaryDirectory("spool").path + "/events.spool"
        do {
            let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "64KiB")])
            try live.put("r", [("url", "http://127.0.0.1:9/"), ("retry_interval", "1h")])
            for i in 0..<10 { live.emit("support_conference_begin", [("lsid", String(i))]) }
        }
        let receiver = try Receiver()
        let live = try LiveAgent([("queue.spool", spool), ("queue.capacity", "128KiB")])
        #expect(live.log.entries(.spoolDamaged).contains { $0.message.contains("migrating its events") })
        try live.put("r", [("url", receiver.url)])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == (0..<10).map(String.init))
    }

    @Test("a spool that cannot be created fails oe_agent_new with OE_EIO and the path")
    func cannotCreate() {
        do {
            _ = try LiveAgent([("queue.spool", "/nonexistent-directory/events.spool")])
            Issue.record("accepted")
        } catch let error as ConfigError {
            #expect(error.code == .io)
            #expect(error.message.contains("/nonexistent-directory/events.spool"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("two agents never share a spool")
    func exclusive() throws {
        let spool = temporaryDirectory("spool").path + "/events.spool"
        let first = try LiveAgent([("queue.spool", spool)])
        do {
            _ = try LiveAgent([("queue.spool", spool)])
            Issue.record("a second agent opened the spool")
        } catch let error as ConfigError {
            #expect(error.code == .io && error.message.contains("in use"))
        }
        _ = first
    }
}

/// A small deterministic generator, so a failing seed can be rerun.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

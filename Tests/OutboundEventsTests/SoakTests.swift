import Foundation
import OutboundEventsCore
import Testing

/// A receiver going up and down every 1.5 s while four threads emit steadily (OE_SOAK_SECONDS,
/// default 60): every event arrives once, or again with the same webhook-id, in each thread's
/// order; memory, descriptors and threads stay flat; then 1,000 create/close cycles leak no
/// thread and no descriptor. The figures go to the test output for HARDENING.md.
@Suite("Flapping receiver and soak")
struct SoakTests {
    @Test("nothing lost, nothing reordered, nothing leaked while the receiver flaps")
    func flapping() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["OE_SOAK_SECONDS"] ?? "") ?? 60
        let soak = buildCProgram("soak")
        let receiver = try Receiver()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: soak)
        child.arguments = [receiver.url, String(seconds)]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        var flaps = 0
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            Thread.sleep(forTimeInterval: 1.5)
            receiver.stop()
            Thread.sleep(forTimeInterval: 1.5)
            try receiver.restart()
            flaps += 1
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        var figures: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.lastIndex(of: " ") else { continue }
            figures[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        func number(_ key: String) -> Int { Int(figures[key] ?? "") ?? -1 }
        #expect(child.terminationStatus == 0)
        #expect(figures["flush"] == "success", "everything delivered once the receiver stayed up")
        #expect(number("dropped_overflow") == 0, "the queue never overflowed, so every event must arrive")

        guard child.terminationStatus == 0, number("emitted t3") >= 0 else {
            Issue.record("the soak program failed (status \(child.terminationStatus), reason \(child.terminationReason.rawValue)): \(text)")
            return
        }
        var firstSeen: [String: [Int]] = [:]
        var ids: [String: String] = [:]
        var deliveries = 0
        for request in receiver.requests {
            guard let lsid = request.field("lsid"), let id = request.headers["webhook-id"] else { continue }
            deliveries += 1
            if let known = ids[lsid] {
                #expect(known == id, "a duplicate carries the same webhook-id")
                continue
            }
            ids[lsid] = id
            let parts = lsid.split(separator: "-")
            firstSeen[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        var emitted = 0
        for thread in 0..<4 {
            let count = number("emitted t\(thread)")
            emitted += count
            #expect(firstSeen["t\(thread)"] == Array(0..<count), "thread \(thread): every event, in order")
            #expect(number("refused t\(thread)") == 0)
        }
        let capacity = 8 * 1024
        #expect(number("rss_max") - number("rss_start") <= capacity + 8 * 1024, "memory bounded")
        #expect(number("fds_end") == number("fds_start"), "descriptors flat")
        #expect(number("threads_end") == number("threads_start"), "threads flat")
        #expect(number("cycle_fds_after") == number("cycle_fds_before"), "1,000 create/close cycles leak no descriptor")
        #expect(number("cycle_threads_after") == number("cycle_threads_before"),
                "1,000 create/close cycles leak no thread")
        print("soak: \(Int(seconds))s, \(flaps) flaps, \(emitted) events emitted by 4 threads,"
                  + " \(deliveries) deliveries (\(deliveries - ids.count) duplicates);"
                  + " resident KiB start \(number("rss_start")), quarter \(number("rss_quarter")),"
                  + " max \(number("rss_max")), end \(number("rss_end"));"
                  + " descriptors \(number("fds_start")) -> \(number("fds_end"));"
                  + " threads \(number("threads_start")) -> \(number("threads_end"));"
                  + " 1,000 cycles: descriptors \(number("cycle_fds_before")) -> \(number("cycle_fds_after")),"
                  + " threads \(number("cycle_threads_before")) -> \(number("cycle_threads_after")),"
                  + " resident KiB \(number("cycle_rss_before")) -> \(number("cycle_rss_after"))")
    }
}

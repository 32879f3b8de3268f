import Foundation
import Journal
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// Reads back, from the real systemd-journald, the entries with one SYSLOG_IDENTIFIER.
func journalEntries(identifier: String) -> [[String: String]] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
    process.arguments = ["-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=\(identifier)"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try? process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: String]
    }
}

@Suite("journald")
struct JournalTests {
    @Test("a failing recipient's entry reaches journald with its MESSAGE_ID, priority and OE_* fields")
    func failingEntry() throws {
        let identifier = "oe-test-\(UUID().uuidString.prefix(8))"
        let receiver = try Receiver(control: "503")
        let agent = try Agent(settings: [(key: "log.identifier", value: identifier), (key: "shutdown_timeout", value: "0")],
                              environment: AgentEnvironment(version: "1.0.0"))
        defer { agent.close() }
        try agent.putHTTPRecipient("ticketing", [(key: "url", value: receiver.url), (key: "retry_interval", value: "1h")])
        _ = agent.emit("support_conference_end", variables: [("lsid", "L")])
        var entry: [String: String]?
        #expect(waitUntil(10) {
            entry = journalEntries(identifier: identifier).first { $0["MESSAGE_ID"] == MessageID.recipientFailing.rawValue }
            return entry != nil
        })
        let found = try #require(entry)
        #expect(found["PRIORITY"] == "4")
        #expect(found["OE_RECIPIENT"] == "ticketing")
        #expect(found["OE_URL"] == receiver.url)
        #expect(found["OE_HTTP_STATUS"] == "503")
        #expect(found["OE_EVENT"] == "support_conference_end")
        #expect(found["OE_EVENT_ID"]?.hasPrefix("evt_") == true)
        #expect(found["OE_ATTEMPT"] == "1")
        #expect(found["OE_ERROR"]?.hasPrefix("HTTP 503") == true)
        #expect(found["CODE_FILE"] != nil && found["CODE_LINE"] != nil && found["CODE_FUNC"] != nil)
        #expect(found["MESSAGE"]?.contains("ticketing") == true)
    }
}

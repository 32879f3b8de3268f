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
        let agent = try Agent(settings: [(key: "log.identifier", value: identifier),
                                         (key: "shutdown_timeout", value: "0")],
                              environment: AgentEnvironment(version: "1.0.0"))
        defer { agent.close() }
        try agent.putHTTPRecipient("ticketing", [(key: "url", value: receiver.url),
                                                 (key: "retry_interval", value: "1h")])
        _ = agent.emit("support_conference_end", variables: [("lsid", "L")])
        var entry: [String: String]?
        #expect(waitUntil(10) {
            entry = journalEntries(identifier: identifier)
                .first { $0["MESSAGE_ID"] == MessageID.recipientFailing.rawValue }
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

func run(_ executable: String, _ arguments: [String]) -> (status: Int32, out: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try? process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("The journald message catalog")
struct CatalogTests {
    let catalog = repositoryRoot + "/packaging/outbound-events.catalog"

    @Test("every MESSAGE_ID the agent can send has a catalog entry with a subject")
    func everyIDExplained() throws {
        let text = try String(contentsOfFile: catalog, encoding: .utf8)
        for id in MessageID.allCases {
            #expect(text.contains("-- \(id.rawValue)\nSubject: "), "no entry for \(id)")
        }
        let entries = text.components(separatedBy: "\n-- ").count - 1
        #expect(entries == MessageID.allCases.count, "entries without a MESSAGE_ID in the code")
    }

    @Test("journalctl --update-catalog accepts the file and lists every entry")
    func journalctlAccepts() throws {
        let root = temporaryDirectory("catalog").path
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/systemd/catalog",
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: catalog,
                                         toPath: root + "/usr/lib/systemd/catalog/outbound-events.catalog")
        #expect(run("/usr/bin/journalctl", ["--root=\(root)", "--update-catalog"]).status == 0)
        let listed = run("/usr/bin/journalctl", ["--root=\(root)", "--list-catalog"]).out
        for id in MessageID.allCases { #expect(listed.contains(id.rawValue), "\(id) not listed") }
    }
}

@Suite("Why a recipient receives nothing, from the journal alone")
struct DiagnosisTests {
    @Test("refused connection, wrong CA, non-200 status and expired events each leave an entry that journalctl -x explains")
    func diagnosis() throws {
        let identifier = "oe-diag-\(UUID().uuidString.prefix(8))"
        let tls = try Receiver(tls: TestPKI.shared.server)
        let failing = try Receiver(control: "503")
        let down = try Receiver()
        down.stop()
        let agent = try Agent(settings: [(key: "log.identifier", value: identifier),
                                         (key: "shutdown_timeout", value: "0")],
                              environment: AgentEnvironment(version: "1.0.0"))
        defer { agent.close() }
        try agent.putHTTPRecipient("refused", [(key: "url", value: down.url), (key: "retry_interval", value: "1h")])
        try agent.putHTTPRecipient("wrong-ca", [(key: "url", value: tls.localhostURL),
                                                (key: "retry_interval", value: "1h"),
                                                (key: "ca_certificate", value: TestPKI.shared.otherCAPEM)])
        try agent.putHTTPRecipient("status", [(key: "url", value: failing.url), (key: "retry_interval", value: "1h")])
        try agent.putHTTPRecipient("expired", [(key: "url", value: failing.url),
                                               (key: "retry_interval", value: "100ms"),
                                               (key: "retry_duration", value: "300ms")])
        _ = agent.emit("support_conference_end", variables: [("lsid", "L")])
        let wanted: [(String, MessageID, String)] = [
            ("refused", .recipientFailing, "refused"), ("wrong-ca", .tlsVerificationFailed, "certificate"),
            ("status", .recipientFailing, "HTTP 503"), ("expired", .eventExpired, "retry_duration"),
        ]
        var entries: [[String: String]] = []
        #expect(waitUntil(15) {
            entries = journalEntries(identifier: identifier)
            return wanted.allSatisfy { name, id, _ in
                entries.contains { $0["OE_RECIPIENT"] == name && $0["MESSAGE_ID"] == id.rawValue }
            }
        })
        for (name, id, text) in wanted {
            let entry = entries.first { $0["OE_RECIPIENT"] == name && $0["MESSAGE_ID"] == id.rawValue }
            #expect(entry?["MESSAGE"]?.contains(text) == true, "\(name): \(entry?["MESSAGE"] ?? "no entry")")
        }
        // With the catalog installed (as the package does), journalctl -x explains each entry.
        guard getuid() == 0 else { return }
        let catalogDirectory = "/usr/lib/systemd/catalog"
        try? FileManager.default.createDirectory(atPath: catalogDirectory, withIntermediateDirectories: true)
        let installed = catalogDirectory + "/outbound-events.catalog"
        try? FileManager.default.removeItem(atPath: installed)
        try FileManager.default.copyItem(atPath: repositoryRoot + "/packaging/outbound-events.catalog",
                                         toPath: installed)
        _ = run("/usr/bin/journalctl", ["--update-catalog"])
        defer {
            try? FileManager.default.removeItem(atPath: installed)
            _ = run("/usr/bin/journalctl", ["--update-catalog"])
        }
        let explained = run("/usr/bin/journalctl", ["-x", "--no-pager", "-t", identifier]).out
        #expect(explained.contains("Subject: TLS verification of outbound events recipient wrong-ca failed"),
                "\(explained.prefix(2000))")
        #expect(explained.contains("Subject: Outbound events recipient refused is failing"))
        #expect(explained.contains("Subject: Outbound event "))
    }
}

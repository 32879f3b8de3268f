import ArgumentParser
import FoundationEssentials
import COutboundEvents
import Glibc
import OutboundEventsAgent
import OutboundEventsCore

/// The status document the agent writes (SPEC section 3), as far as the tool shows it.
struct StatusDocument: Decodable {
    struct Queue: Decodable {
        var capacity_bytes: Int
        var used_bytes: Int
        var queued_events: Int
        var dropped_overflow: Int
        var spool: String?
    }

    struct SMTP: Decodable {
        var status: String
    }

    struct Recipient: Decodable {
        var name: String
        var kind: String
        var enabled: Bool
        var url: String?
        var status: String
        var queued_events: Int
        var delivered: Int
        var dropped_expired: Int
        var dropped_overflow: Int
        var failing_since: Int?
        var last_http_status: Int?
    }

    var version: String
    /// "running" or "stopped": the status of outbound-eventsd (appliance mode).
    var daemon: String?
    var appliance_id: String?
    var pid: Int?
    var updated: Int?
    var queue: Queue
    var smtp: SMTP
    var recipients: [Recipient]

    static func parse(_ text: String) -> StatusDocument? {
        try? JSONDecoder().decode(StatusDocument.self, from: Data(text.utf8))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the status of running agents.",
        discussion: """
            Agents write their status (queue, SMTP relay, every recipient) to the file \
            named by the status.path setting, atomically, every 2 seconds. Without FILE \
            arguments, every *.json file in --dir is shown. Exit status 1 when a file cannot \
            be read.
            """
    )

    @Argument(help: "Status files (default: every *.json in --dir).") var files: [String] = []
    @Option(help: "Where agents write their status files.") var dir = "/run/outbound-events"
    @Flag(help: "Print the documents as one JSON array instead of tables.") var json = false
    @Option(help: "Show the daemon (outbound-eventsd) whose queue.spool this is, as its producers see it.")
    var attach: String?

    func run() throws {
        if let attach {
            let producer: Producer
            do {
                producer = try Producer(settings: [(key: "queue.attach", value: attach),
                                                   (key: "log.destination", value: "none")],
                                        environment: AgentEnvironment(version: OE_VERSION_STRING))
            } catch {
                complain(error.message)
                throw ExitCode(1)
            }
            let text = producer.status()
            if json {
                print(text)
            } else if let document = StatusDocument.parse(text) {
                show(attach, document)
            } else {
                print("\(attach)  outbound-eventsd \(producer.daemonRunning ? "running" : "stopped");"
                          + " it has published no status yet")
            }
            if !producer.daemonRunning { throw ExitCode(1) }
            return
        }
        var paths = files
        if paths.isEmpty {
            if let entries = try? FileManagerLite.list(dir) {
                paths = entries.filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
            }
        }
        guard !paths.isEmpty else {
            complain("no status files in \(dir): set status.path (e.g. \(dir)/SERVICE.json) in the agent's settings")
            throw ExitCode(1)
        }
        var failed = false
        var documents: [(String, String)] = []
        for path in paths {
            guard let text = try? readFile(path), let document = StatusDocument.parse(text) else {
                complain("\(path): not a readable status file")
                failed = true
                continue
            }
            documents.append((path, text))
            if !json { show(path, document) }
        }
        if json {
            let items = documents.map {
                "{\"path\":\(JSONWriter.quoted($0.0)),\"status\":\($0.1.trimmingTrailingNewlines())}"
            }
            print("[" + items.joined(separator: ",\n") + "]")
        }
        if failed { throw ExitCode(1) }
    }

    func show(_ path: String, _ document: StatusDocument) {
        let now = Int(time(nil))
        var heading = path
        if document.daemon != nil { heading += "  outbound-eventsd (appliance mode)" }
        if let pid = document.pid {
            heading += "  pid \(pid)" + (kill(pid_t(pid), 0) == 0 || errno == EPERM ? "" : " (not running)")
        }
        if let updated = document.updated { heading += ", updated \(max(0, now - updated))s ago" }
        if let appliance = document.appliance_id { heading += ", appliance \(appliance)" }
        print(heading)
        let queue = document.queue
        print("  queue: \(queue.queued_events) events, \(queue.used_bytes) of \(queue.capacity_bytes) bytes used,"
                  + " \(queue.dropped_overflow) dropped for lack of room\(queue.spool.map { ", spool \($0)" } ?? "");"
                  + " SMTP: \(document.smtp.status)")
        printRecipients(document.recipients, indent: "  ")
        print("")
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

/// Directory listing without the rest of Foundation.
enum FileManagerLite {
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw ConfigError(.io, "cannot list \(path)") }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// The recipients as a table: what a person reads first when events do not arrive.
func printRecipients(_ recipients: [StatusDocument.Recipient], indent: String = "") {
    guard !recipients.isEmpty else {
        print("\(indent)no recipients")
        return
    }
    let now = Int(time(nil))
    let header = ["RECIPIENT", "KIND", "STATUS", "QUEUED", "DELIVERED", "DROPPED", "FAILING SINCE"]
    var rows = [header]
    for r in recipients {
        var failing = "-"
        if let since = r.failing_since { failing = RFC3339.format(Int64(since)) + " (\(ageText(now - since)))" }
        rows.append([r.name, r.kind, r.enabled ? r.status : "disabled", String(r.queued_events), String(r.delivered),
                     String(r.dropped_expired + r.dropped_overflow), failing])
    }
    var widths = Array(repeating: 0, count: header.count)
    for row in rows {
        for (i, cell) in row.enumerated() { widths[i] = max(widths[i], min(cell.count, i == 2 ? 48 : 40)) }
    }
    for row in rows {
        var line = indent
        for (i, cell) in row.enumerated() {
            let text = cell.count > widths[i] ? String(cell.prefix(widths[i] - 1)) + "…" : cell
            let padded = (3...5).contains(i) ? String(repeating: " ", count: widths[i] - text.count) + text
                                             : text + String(repeating: " ", count: widths[i] - text.count)
            line += padded + (i < row.count - 1 ? "  " : "")
        }
        while line.hasSuffix(" ") { line.removeLast() }
        print(line)
    }
}

func ageText(_ seconds: Int) -> String {
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 7200 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3600)h" }
    return "\(seconds / 86400)d"
}

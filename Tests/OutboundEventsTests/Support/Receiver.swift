import Foundation
import OutboundEventsAgent
import OutboundEventsCore

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

/// A fresh temporary directory, removed when the process ends.
func temporaryDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("oe-\(label)-\(UUID().uuidString.prefix(8))")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
@discardableResult
func waitUntil(_ timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// A Python server of scripts/ on 127.0.0.1: started with its arguments, it prints "PORT <n>";
/// stopped with SIGKILL, so that connections are refused at once; restarted on the same port.
final class LoopbackServer: @unchecked Sendable {
    let script: String
    private(set) var port = 0
    private var process: Process?

    init(script: String) { self.script = script }

    deinit { stop() }

    func start(port: Int, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [repositoryRoot + "/scripts/" + script] + arguments + ["--port", String(port)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("PORT "),
              let number = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ConfigError(.io, "\(script) did not start: \(line)")
        }
        self.port = number
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }
}

/// The objects of a JSON-lines file the servers write; none while it does not exist.
func jsonLines(_ url: URL) -> [[String: Any]] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// A real webhook receiver on 127.0.0.1 (scripts/receiver.py), HTTP or HTTPS. Its behaviour is
/// set through a control file; every request it answers is read back from its log.
final class Receiver: @unchecked Sendable {
    let directory: URL
    let tls: (cert: String, key: String)?
    let tlsMax: String?
    /// Secrets a receiver written with the official Standard Webhooks library verifies with.
    let verify: [String]
    private let server = LoopbackServer(script: "receiver.py")
    var port: Int { server.port }

    struct Request {
        let path: String
        let headers: [String: String]
        let body: String
        let time: Double
        /// With `verify`: which secret verified, and the payload the library parsed.
        let verifiedSecret: Int?
        let payload: Any?
        /// The keys of a JSON payload's `data`, in the order the body has them.
        let dataKeys: [String]?
        let verifyError: String?

        /// The body's fields in order, decoded.
        var fields: [(String, String)] {
            body.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                }
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }
        }

        func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
    }

    init(control: String = "200", tls: (cert: String, key: String)? = nil, tlsMax: String? = nil,
         verify: [String] = []) throws {
        directory = temporaryDirectory("receiver")
        self.tls = tls
        self.tlsMax = tlsMax
        self.verify = verify
        setControl(control)
        try start(port: 0)
    }

    var url: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/hook" }
    /// The same receiver under the name its certificate carries.
    var localhostURL: String { "https://localhost:\(port)/hook" }

    func setControl(_ text: String) {
        try! text.write(to: directory.appendingPathComponent("control"), atomically: true, encoding: .utf8)
    }

    /// Starts the server, on `port` (0: any free one).
    func start(port: Int) throws {
        var arguments = ["--log", directory.appendingPathComponent("requests.jsonl").path,
                         "--control", directory.appendingPathComponent("control").path]
        if let tls { arguments += ["--cert", tls.cert, "--key", tls.key] }
        if let tlsMax { arguments += ["--tls-max", tlsMax] }
        for secret in verify { arguments += ["--verify", secret] }
        try server.start(port: port, arguments: arguments)
    }

    /// Takes the receiver down: connections are refused until `restart`.
    func stop() { server.stop() }

    func restart() throws { try start(port: port) }

    var requests: [Request] {
        jsonLines(directory.appendingPathComponent("requests.jsonl")).map { object in
            let verified = object["verified"] as? [String: Any]
            return Request(path: object["path"] as! String, headers: object["headers"] as! [String: String],
                           body: object["body"] as! String, time: object["time"] as! Double,
                           verifiedSecret: verified?["secret"] as? Int, payload: verified?["payload"],
                           dataKeys: verified?["data_keys"] as? [String],
                           verifyError: object["verify_error"] as? String)
        }
    }

    func lsids() -> [String] { requests.map { $0.field("lsid") ?? "" } }
}

/// A test CA, a server certificate for localhost and 127.0.0.1, and the bad material the TLS
/// tests need, made once per test run with the openssl tool.
final class TestPKI: Sendable {
    static let shared = try! TestPKI()

    let directory: String
    var caPEM: String { read("ca.pem") }
    var otherCAPEM: String { read("other-ca.pem") }
    var expiredCAPEM: String { read("expired-ca.pem") }
    var leafPEM: String { read("leaf-not-ca.pem") }
    var server: (cert: String, key: String) { (directory + "/server.pem", directory + "/server.key") }
    var wrongHost: (cert: String, key: String) { (directory + "/wrong.pem", directory + "/wrong.key") }
    var expiredServer: (cert: String, key: String) {
        (directory + "/expired-server.pem", directory + "/expired-server.key")
    }

    init() throws {
        directory = temporaryDirectory("pki").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot + "/Tests/OutboundEventsTests/Support/make-pki.sh"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ConfigError(.io, "openssl failed to make the test PKI") }
    }

    func read(_ name: String) -> String {
        try! String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }
}

/// An agent on the real libcurl transport and its own delivery thread, logging to a list.
final class LiveAgent: AgentHarness, @unchecked Sendable {
    let agent: Agent
    let log = CapturingSink()

    /// Tests do not wait for undelivered events when they end, unless they ask to.
    init(_ settings: [(String, String)] = []) throws {
        var environment = AgentEnvironment(version: "1.0.0")
        environment.log = log
        var all = settings
        if !all.contains(where: { $0.0 == "shutdown_timeout" }) { all.append(("shutdown_timeout", "0")) }
        agent = try Agent(settings: all.map { (key: $0.0, value: $0.1) }, environment: environment)
    }

    deinit { agent.close() }

    func recipient(_ name: String) -> [String: Any] { try! recipientStatus(agent, name) }
}

/// A real SMTP relay on 127.0.0.1 (scripts/smtp-receiver.py, Debian's aiosmtpd), plain or with
/// STARTTLS, optionally requiring a login. Accepted messages are read back parsed by Python's
/// email package, as a mail system would see them.
final class SMTPRelay: @unchecked Sendable {
    let directory = temporaryDirectory("smtp")
    let tls: (cert: String, key: String)?
    let auth: String?
    private let server = LoopbackServer(script: "smtp-receiver.py")
    var port: Int { server.port }

    struct Message {
        let from: String
        let to: [String]
        let subject: String
        let body: String
        let headers: [String: String]
        let tls: Bool
        let raw: String
    }

    init(tls: (cert: String, key: String)? = nil, auth: String? = nil) throws {
        self.tls = tls
        self.auth = auth
        try start(port: 0)
    }

    func setControl(_ text: String) {
        try! text.write(to: directory.appendingPathComponent("control"), atomically: true, encoding: .utf8)
    }

    func start(port: Int) throws {
        var arguments = ["--dir", directory.path, "--control", directory.appendingPathComponent("control").path]
        if let tls { arguments += ["--cert", tls.cert, "--key", tls.key] }
        if let auth { arguments += ["--auth", auth] }
        try server.start(port: port, arguments: arguments)
    }

    func stop() { server.stop() }

    func restart() throws { try start(port: port) }

    var messages: [Message] {
        jsonLines(directory.appendingPathComponent("messages.jsonl")).map { object in
            Message(from: object["mail_from"] as! String, to: object["rcpt_tos"] as! [String],
                    subject: object["subject"] as! String,
                    body: (object["body"] as! String).replacingOccurrences(of: "\r\n", with: "\n"),
                    headers: object["headers"] as! [String: String], tls: object["tls"] as! Bool,
                    raw: object["data"] as! String)
        }
    }

    /// Agent settings that point at this relay.
    func settings(encryption: String = "none", extra: [(String, String)] = []) -> [(String, String)] {
        [("smtp.host", tls == nil ? "127.0.0.1" : "localhost"), ("smtp.port", String(port)),
         ("smtp.encryption", encryption), ("smtp.from", "appliance@bseries.example"),
         ("smtp.retry_interval", "200ms")] + extra
    }
}

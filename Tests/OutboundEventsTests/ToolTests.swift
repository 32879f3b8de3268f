import Foundation
import OutboundEventsCore
import Testing

/// Runs the built `outbound-events` tool; returns its exit status, standard output and error.
func runTool(_ arguments: [String], input: String? = nil,
             timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
    let tool = repositoryRoot + "/.build/debug/outbound-events-tool"
    precondition(FileManager.default.fileExists(atPath: tool), "build the tool first (swift build)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), inputPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inputPipe
    try process.run()
    if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try inputPipe.fileHandleForWriting.close()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let error = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
}

func writeSettings(_ text: String) -> String {
    let path = temporaryDirectory("settings").path + "/agent.conf"
    try! text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("The outbound-events tool")
struct ToolTests {
    @Test("check: a valid file passes with status 0")
    func checkValid() throws {
        let directory = temporaryDirectory("check").path
        try TestPKI.shared.caPEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
        let path = directory + "/agent.conf"
        try """
            # the demo appliance
            appliance_id = bseries-01
            queue.capacity = 8MiB

            [http ticketing]
            url = https://tickets.example.com/hook
            ca_certificate = @ca.pem
            events = support_conference_begin, support_conference_end

            [email "session ends"]
            addresses = ops@example.com
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runTool(["check", path])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("OK (2 agent settings, 1 HTTP and 1 email recipients)"))
    }

    @Test("check: every problem is reported with its line, status 1")
    func checkInvalid() throws {
        let path = writeSettings("""
            appliance_id = bseries-01
            queue.capacity = lots
            colour = blue
            [http ticketing]
            url = ftp://tickets.example.com/
            retry_interval = soon
            [email ticketing]
            addresses = not-an-address
            [pager x]
            """)
        let result = try runTool(["check", path])
        #expect(result.status == 1)
        for expected in ["\(path):2: queue.capacity:", "\(path):3: \"colour\": unknown agent setting",
                         "\(path):5: url: scheme \"ftp\"", "\(path):6: retry_interval:",
                         "\(path):7: name: \"ticketing\" is used twice",
                         "\(path):8: addresses:", "\(path):9: unknown section"] {
            #expect(result.err.contains(expected), "missing: \(expected)\n\(result.err)")
        }
    }

    @Test("send-test: a 200 over HTTP is reported as delivered, with address and timing")
    func sendTestHTTP() throws {
        let receiver = try Receiver()
        let result = try runTool(["send-test", receiver.url,
                                  "--signing-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        #expect(result.status == 0, "\(result.out)\(result.err)")
        #expect(result.out.contains("Resolved to:  127.0.0.1:\(receiver.port)"))
        #expect(result.out.contains("Answer:       HTTP 200"))
        #expect(result.out.contains("Delivered:    yes"))
        #expect(result.out.contains("ms in all"))
        let request = try #require(receiver.requests.first)
        #expect(request.field("event") == "support_conference_begin")
        #expect(request.headers["webhook-signature"]?.hasPrefix("v1,") == true)
    }

    @Test("send-test: HTTPS with the right CA shows the TLS version and the certificate")
    func sendTestTLS() throws {
        let receiver = try Receiver(tls: TestPKI.shared.server)
        let ca = temporaryDirectory("ca").path + "/ca.pem"
        try TestPKI.shared.caPEM.write(toFile: ca, atomically: true, encoding: .utf8)
        let result = try runTool(["send-test", receiver.localhostURL, "--ca-file", ca])
        #expect(result.status == 0, "\(result.out)\(result.err)")
        #expect(result.out.contains("TLS:          TLSv1."))
        #expect(result.out.contains("certificate verified against the CA in \(ca)"))
        #expect(result.out.contains("Certificate: ") && result.out.contains("Outbound Events Test CA"))
    }

    @Test("send-test: a wrong CA says why verification failed and what the server presented")
    func sendTestWrongCA() throws {
        let receiver = try Receiver(tls: TestPKI.shared.server)
        let ca = temporaryDirectory("ca").path + "/other.pem"
        try TestPKI.shared.otherCAPEM.write(toFile: ca, atomically: true, encoding: .utf8)
        let result = try runTool(["send-test", receiver.localhostURL, "--ca-file", ca])
        #expect(result.status == 1)
        #expect(result.out.contains("verification FAILED"), "\(result.out)")
        #expect(result.out.contains("Presented:") && result.out.contains("Outbound Events Test CA"), "\(result.out)")
        #expect(result.out.contains("Delivered:    no"))
        #expect(receiver.requests.isEmpty)
    }

    @Test("send-test: a 500 is not delivered, and the answer is shown")
    func sendTest500() throws {
        let receiver = try Receiver(control: "500")
        let result = try runTool(["send-test", receiver.url])
        #expect(result.status == 1)
        #expect(result.out.contains("Answer:       HTTP 500"))
        #expect(result.out.contains("only HTTP 200 counts"))
    }

    @Test("send-test: a refused connection says so")
    func sendTestRefused() throws {
        let receiver = try Receiver()
        receiver.stop()
        let result = try runTool(["send-test", receiver.url])
        #expect(result.status == 1)
        #expect(result.out.contains("Connection refused") || result.out.contains("Couldn't connect"), "\(result.out)")
    }

    @Test("emit: events from the command line and from standard input are delivered, with the outcome per recipient")
    func emit() throws {
        let receiver = try Receiver()
        let path = writeSettings("""
            appliance_id = tool-test
            log.destination = none
            [http ticketing]
            url = \(receiver.url)
            send_custom_fields = true
            """)
        let one = try runTool(["emit", path, "support_conference_end", "lsid=L1", "custom:region=EMEA"])
        #expect(one.status == 0, "\(one.out)\(one.err)")
        #expect(one.out.contains("ticketing") && one.out.contains("OK"))
        let many = try runTool(["emit", path],
                               input: "support_conference_begin lsid=L2 display_name=\"Ann Baker\"\n"
                                   + "support_conference_end lsid=L2\n")
        #expect(many.status == 0, "\(many.out)\(many.err)")
        #expect(receiver.lsids() == ["L1", "L2", "L2"])
        #expect(receiver.requests[0].field("custom_region") == "EMEA")
        #expect(receiver.requests[1].field("display_name") == "Ann Baker")
    }

    @Test("emit: a recipient that fails makes the command fail and say where to look")
    func emitFails() throws {
        let receiver = try Receiver(control: "503")
        let path = writeSettings("""
            log.destination = none
            shutdown_timeout = 0
            [http ticketing]
            url = \(receiver.url)
            """)
        let result = try runTool(["emit", path, "support_conference_end", "lsid=L1", "--timeout", "1s"])
        #expect(result.status == 1)
        #expect(result.out.contains("HTTP 503"))
        #expect(result.err.contains("journalctl -x -t outbound-events"))
    }

    @Test("log.destination = stderr writes each entry as one readable line")
    func stderrLogging() throws {
        let receiver = try Receiver(control: "503")
        let path = writeSettings("""
            log.destination = stderr
            log.identifier = oe-stderr-test
            shutdown_timeout = 0
            [http ticketing]
            url = \(receiver.url)
            """)
        let result = try runTool(["emit", path, "support_conference_end", "lsid=L1", "--timeout", "1s"])
        let line = result.err.split(separator: "\n").first { $0.contains("failing") }
        #expect(line?.hasPrefix("oe-stderr-test[") == true, "\(result.err)")
        #expect(line?.contains("warning: recipient \"ticketing\" failing: HTTP 503") == true)
        #expect(line?.contains("OE_HTTP_STATUS=503") == true)
    }

    @Test("status: the files agents write, as a table and as JSON")
    func status() throws {
        let receiver = try Receiver(control: "503")
        let directory = temporaryDirectory("status").path
        let live = try LiveAgent([("status.path", directory + "/sessiond.json"), ("appliance_id", "bseries-01")])
        try live.put("ticketing", [("url", receiver.url), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil(10) {
            ((try? String(contentsOfFile: directory + "/sessiond.json", encoding: .utf8)) ?? "").contains("HTTP 503")
        })
        let table = try runTool(["status", "--dir", directory])
        #expect(table.status == 0, "\(table.err)")
        #expect(table.out.contains("appliance bseries-01"))
        #expect(table.out.contains("RECIPIENT") && table.out.contains("FAILING SINCE"))
        #expect(table.out.contains("ticketing") && table.out.contains("HTTP 503"))
        let json = try runTool(["status", directory + "/sessiond.json", "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [[String: Any]]
        #expect(parsed.count == 1 && (parsed[0]["status"] as? [String: Any])?["version"] as? String == "1.0.0")
        let missing = try runTool(["status", "--dir", directory + "/none"])
        #expect(missing.status == 1 && missing.err.contains("status.path"))
    }

    @Test("--help on every command")
    func help() throws {
        for command in [[], ["check"], ["send-test"], ["emit"], ["status"]] {
            let result = try runTool(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.out.contains("USAGE"))
        }
    }
}

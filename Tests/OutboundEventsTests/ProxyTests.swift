import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// A real HTTP proxy on 127.0.0.1: Debian's tinyproxy, started in the foreground for one test,
/// optionally requiring a login, optionally allowing CONNECT only to port 443.
final class TinyProxy: @unchecked Sendable {
    let directory = temporaryDirectory("proxy")
    let port: Int
    private let process = Process()

    init(auth: (user: String, password: String)? = nil, connectOnly443: Bool = false) throws {
        chmod(directory.path, 0o777)
        port = try freePort()
        var config = """
            User nobody
            Group nogroup
            Port \(port)
            Listen 127.0.0.1
            Timeout 30
            LogFile "\(directory.path)/proxy.log"
            LogLevel Connect
            MaxClients 20
            Allow 127.0.0.1
            DisableViaHeader Yes

            """
        if let auth { config += "BasicAuth \(auth.user) \(auth.password)\n" }
        if connectOnly443 { config += "ConnectPort 443\n" }
        try config.write(to: directory.appendingPathComponent("tinyproxy.conf"), atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tinyproxy")
        process.arguments = ["-d", "-c", directory.appendingPathComponent("tinyproxy.conf").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard waitUntil(10, { canConnect(port) }) else {
            throw ConfigError(.io, "tinyproxy did not start on port \(port)")
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("proxy.log"), encoding: .utf8)) ?? "" }
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw ConfigError(.io, "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// SPEC 10: `http.proxy` and `http.no_proxy`, against a real proxy.
@Suite("HTTP proxy")
struct ProxyTests {
    @Test("plain HTTP and HTTPS (by CONNECT, verified end to end against the recipient's CA) go through the proxy")
    func throughTheProxy() throws {
        let proxy = try TinyProxy()
        let plain = try Receiver()
        let secure = try Receiver(tls: TestPKI.shared.server)
        let live = try LiveAgent([("http.proxy", proxy.url)])
        try live.put("plain", [("url", plain.url)])
        try live.put("secure", [("url", secure.localhostURL), ("ca_certificate", TestPKI.shared.caPEM)])
        live.emit("support_conference_begin", [("lsid", "proxied")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(plain.lsids() == ["proxied"] && secure.lsids() == ["proxied"])
        #expect(proxy.log.contains("POST http://127.0.0.1:\(plain.port)/hook"), "\(proxy.log)")
        #expect(proxy.log.contains("CONNECT localhost:\(secure.port)"), "\(proxy.log)")
    }

    @Test("through the proxy, a server the recipient's CA did not sign is still refused")
    func verifiedEndToEnd() throws {
        let proxy = try TinyProxy()
        let secure = try Receiver(tls: TestPKI.shared.server)
        let live = try LiveAgent([("http.proxy", proxy.url)])
        try live.put("secure", [("url", secure.localhostURL), ("ca_certificate", TestPKI.shared.otherCAPEM)])
        live.emit("support_conference_begin", [("lsid", "x")])
        #expect(waitUntil { (live.recipient("secure")["status"] as? String)?.hasPrefix("TLS: ") == true })
        #expect(secure.requests.isEmpty)
        #expect(proxy.log.contains("CONNECT localhost:\(secure.port)"))
    }

    @Test("proxy authentication: with the credentials it delivers; without, the error says the proxy wants them; the password never shows")
    func authentication() throws {
        let proxy = try TinyProxy(auth: ("agent", "pr0xy-PASS-55"))
        let receiver = try Receiver(tls: TestPKI.shared.server)
        let withLogin = try LiveAgent([("http.proxy", "http://agent:pr0xy-PASS-55@127.0.0.1:\(proxy.port)")])
        try withLogin.put("r", [("url", receiver.localhostURL), ("ca_certificate", TestPKI.shared.caPEM)])
        withLogin.emit("support_conference_begin", [("lsid", "with-login")])
        #expect(withLogin.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == ["with-login"])
        let status = withLogin.agent.status()
        #expect(status.contains("\"http_proxy\":\"http://***@127.0.0.1:\(proxy.port)\""), "\(status)")
        #expect(!status.contains("pr0xy-PASS-55"))

        let without = try LiveAgent([("http.proxy", proxy.url)])
        try without.put("r", [("url", receiver.localhostURL), ("ca_certificate", TestPKI.shared.caPEM)])
        without.emit("support_conference_begin", [("lsid", "no-login")])
        #expect(waitUntil {
            (without.recipient("r")["status"] as? String)?.contains("asks for authentication") == true
        })
        #expect((without.recipient("r")["status"] as? String)?.contains("407") == true)
        for entry in withLogin.log.entries + without.log.entries {
            #expect(!entry.message.contains("pr0xy-PASS-55")
                    && !entry.fields.contains { $0.value.contains("pr0xy-PASS-55") })
        }
    }

    @Test("a proxy that refuses CONNECT: the recipient's error says so")
    func refusesConnect() throws {
        let proxy = try TinyProxy(connectOnly443: true)
        let receiver = try Receiver(tls: TestPKI.shared.server)
        let live = try LiveAgent([("http.proxy", proxy.url)])
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", TestPKI.shared.caPEM)])
        live.emit("support_conference_begin", [("lsid", "x")])
        #expect(waitUntil {
            let status = live.recipient("r")["status"] as? String
            return status?.contains("refused CONNECT to localhost:\(receiver.port) (HTTP 403)") == true
        }, "\(live.recipient("r")["status"] ?? "")")
        #expect(receiver.requests.isEmpty)
    }

    @Test("http.no_proxy: listed hosts are reached directly")
    func noProxy() throws {
        let receiver = try Receiver()
        let deadProxy = "http://127.0.0.1:\(try freePort())"
        let bypass = try LiveAgent([("http.proxy", deadProxy), ("http.no_proxy", "example.com, 127.0.0.1")])
        try bypass.put("r", [("url", receiver.url)])
        bypass.emit("support_conference_begin", [("lsid", "direct")])
        #expect(bypass.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == ["direct"])

        let through = try LiveAgent([("http.proxy", deadProxy)])
        try through.put("r", [("url", receiver.url)])
        through.emit("support_conference_begin", [("lsid", "via-dead-proxy")])
        #expect(waitUntil {
            (through.recipient("r")["status"] as? String)?.hasPrefix("proxy http://127.0.0.1:") == true
        }, "\(through.recipient("r")["status"] ?? "")")
        #expect(receiver.lsids() == ["direct"])
    }

    @Test("http.proxy is checked when set: http:// with a port and nothing after it")
    func proxySetting() throws {
        var settings = AgentSettings()
        for bad in ["https://127.0.0.1:3128", "http://127.0.0.1", "http://127.0.0.1:3128/path", "socks5://h:1",
                    "http://u:s3cret@h:99999"] {
            #expect(throws: ConfigError.self) { try settings.set("http.proxy", bad) }
            do { try settings.set("http.proxy", bad) } catch { #expect(!error.message.contains("s3cret")) }
        }
        try settings.set("http.proxy", "http://user:pw@proxy.example:3128")
        #expect(settings.proxy?.redacted == "http://***@proxy.example:3128")
        #expect(throws: ConfigError.self) { try settings.set("http.no_proxy", "ok.example, not a host") }
    }

    @Test("send-test goes through --proxy, and shows the proxy redacted")
    func sendTest() throws {
        let proxy = try TinyProxy(auth: ("agent", "pr0xy-PASS-55"))
        let receiver = try Receiver(tls: TestPKI.shared.server)
        let directory = temporaryDirectory("send-test-proxy").path
        try TestPKI.shared.caPEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
        let settings = writeSettings("http.proxy = http://agent:pr0xy-PASS-55@127.0.0.1:\(proxy.port)\n")
        let result = try runTool(["send-test", receiver.localhostURL, "--ca-file", directory + "/ca.pem",
                                  "--settings", settings])
        #expect(result.status == 0, "\(result.out) \(result.err)")
        #expect(result.out.contains("Proxy:        http://***@127.0.0.1:\(proxy.port)"
                                        + " (a CONNECT tunnel; TLS verified end to end)"), "\(result.out)")
        #expect(!(result.out + result.err).contains("pr0xy-PASS-55"))
        #expect(receiver.requests.count == 1)
    }
}

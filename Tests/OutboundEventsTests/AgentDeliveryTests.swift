import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing
import TLSMaterial

/// The delivery promises of SPEC section 2, with a manual clock and a fake transport: no
/// network, no sleeping.
@Suite("Delivery promises (injected clock)")
struct AgentDeliveryTests {
    @Test("an event that fails blocks the ones after it; on recovery all arrive in order")
    func failureBlocksThenOrder() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "10s")])
        for i in 0..<5 { m.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        m.turn()
        #expect(lsids(m.transport.requests) == ["e0"])
        m.transport.fail(0)
        m.settle()
        #expect(m.transport.requests.count == 1, "nothing after the failed event is sent")
        m.clock.advance(10_000)
        m.turn()
        #expect(lsids(m.transport.requests) == ["e0", "e0"], "the same event is retried")
        for _ in 0..<5 {
            m.transport.succeed(0)
            m.settle()
        }
        #expect(lsids(m.transport.requests) == ["e0", "e0", "e1", "e2", "e3", "e4"])
        #expect(try m.recipient("r")["delivered"] as? Int == 5)
    }

    @Test("a failed event is retried every retry_interval, not sooner")
    func retryInterval() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "30s")])
        m.emit()
        m.turn()
        m.transport.fail(0)
        m.settle()
        m.clock.advance(29_999)
        m.turn()
        #expect(m.transport.requests.count == 1)
        m.clock.advance(1)
        m.turn()
        #expect(m.transport.requests.count == 2)
    }

    @Test("an event failing longer than retry_duration is dropped, logged with its id and counted; the next goes")
    func retryDuration() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "1m"), ("retry_duration", "3m")])
        m.emit("support_conference_begin", [("lsid", "doomed")])
        m.emit("support_conference_begin", [("lsid", "next")])
        m.turn()
        for _ in 0..<3 {
            m.transport.fail(0)
            m.settle()
            m.clock.advance(60_000)
            m.turn()
        }
        #expect(lsids(m.transport.requests) == ["doomed", "doomed", "doomed", "doomed"])
        m.transport.fail(0)
        m.settle()
        #expect(lsids(m.transport.requests).last == "next", "dropped after 3m; the next event goes at once")
        let drop = try #require(m.log.entries(.eventExpired).first)
        #expect(drop.field("OE_EVENT_ID") == m.transport.requests[0].headers["webhook-id"])
        #expect(drop.field("OE_RECIPIENT") == "r")
        #expect(drop.message.contains("retry_duration"))
        #expect(try m.recipient("r")["dropped_expired"] as? Int == 1)
    }

    @Test("a dead recipient never delays a live one")
    func independence() throws {
        let m = try ManualAgent()
        try m.put("dead", [("url", "http://dead.example/")])
        try m.put("live", [("url", "http://live.example/")])
        for i in 0..<3 { m.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        m.turn()
        // "dead" never answers; "live" gets all three meanwhile.
        for _ in 0..<3 {
            m.transport.succeed(1)
            m.settle()
        }
        #expect(lsids(m.transport.requests.filter { $0.slot == 1 }) == ["e0", "e1", "e2"])
        #expect(m.transport.inFlight == [0])
    }

    @Test("the webhook-id stays the same across retries; the body is byte-identical; webhook-timestamp is the attempt's")
    func idsAndTimestamps() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "90s")])
        m.emit("support_conference_end", [("lsid", "L")])
        m.emit("support_conference_end", [("lsid", "M")])
        m.turn()
        m.transport.fail(0)
        m.settle()
        m.clock.advance(90_000)
        m.turn()
        m.transport.succeed(0)
        m.settle()
        let requests = m.transport.requests
        #expect(requests.count == 3)
        #expect(requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"])
        #expect(requests[0].headers["webhook-id"] != requests[2].headers["webhook-id"])
        #expect(requests[0].body == requests[1].body)
        let first = Int(requests[0].headers["webhook-timestamp"]!)!
        let second = Int(requests[1].headers["webhook-timestamp"]!)!
        #expect(second - first == 90)
        #expect(requests[0].headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8")
    }

    @Test("a signing secret adds a Standard Webhooks v1 signature over id.timestamp.body")
    func signature() throws {
        let m = try ManualAgent()
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try m.put("r", [("url", "http://r.example/"), ("signing_secret", secret)])
        m.emit()
        m.turn()
        let request = try #require(m.transport.requests.first)
        let signed = "\(request.headers["webhook-id"]!).\(request.headers["webhook-timestamp"]!).\(request.body)"
        let input = Array(signed.utf8)
        let key = Base64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
        #expect(request.headers["webhook-signature"] == "v1," + HMACSHA256.base64Signature(key: key, message: input))
        #expect(!m.agent.status().contains("MfKQ9r8"), "the secret never appears in status")
    }

    @Test("only HTTP 200 succeeds")
    func only200() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "1s")])
        m.emit()
        m.turn()
        m.transport.fail(0, status: 204)
        m.settle()
        #expect(try m.recipient("r")["delivered"] as? Int == 0)
        #expect(try m.recipient("r")["last_http_status"] as? Int == 204)
        #expect(try m.recipient("r")["queued_events"] as? Int == 1)
    }

    @Test("enabled off discards pending events; on again delivers only events emitted from then on")
    func enabled() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        m.emit("support_conference_begin", [("lsid", "before")])
        try m.put("r", [("url", "http://r.example/"), ("enabled", "false")])
        m.emit("support_conference_begin", [("lsid", "while-off")])
        m.settle()
        #expect(m.transport.requests.isEmpty)
        #expect(try m.recipient("r")["discarded"] as? Int == 1)
        #expect(m.log.entries(.eventsDiscarded).count == 1)
        try m.put("r", [("url", "http://r.example/")])
        m.emit("support_conference_begin", [("lsid", "after")])
        m.settle()
        #expect(lsids(m.transport.requests) == ["after"])
    }

    @Test("each recipient receives only the event types it selected")
    func eventFilter() throws {
        let m = try ManualAgent()
        try m.put("ends", [("url", "http://r.example/"), ("events", "support_conference_end")])
        m.emit("support_conference_begin", [("lsid", "b")])
        m.emit("support_conference_end", [("lsid", "e")])
        m.settle()
        #expect(lsids(m.transport.requests) == ["e"])
    }

    @Test("custom fields go only to recipients with send_custom_fields on")
    func customFields() throws {
        let m = try ManualAgent()
        try m.put("plain", [("url", "http://a.example/")])
        try m.put("custom", [("url", "http://b.example/"), ("send_custom_fields", "true")])
        m.emit("support_conference_begin", [("lsid", "x")], custom: [("ticket", "T 1")])
        m.settle()
        let bySlot = Dictionary(uniqueKeysWithValues: m.transport.requests.map { ($0.slot, $0.body) })
        #expect(!bySlot[0]!.contains("custom_"))
        #expect(bySlot[1]!.hasSuffix("&lsid=x&custom_ticket=T+1"))
    }

    @Test("editing a recipient keeps its queued events and position; they go to the new URL")
    func edit() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://old.example/"), ("retry_interval", "1h")])
        for i in 0..<3 { m.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        m.turn()
        m.transport.fail(0)
        m.settle()
        try m.put("r", [("url", "http://new.example/"), ("retry_interval", "1h")])
        m.settle()
        for _ in 0..<3 {
            m.transport.succeed(0)
            m.settle()
        }
        let requests = m.transport.requests
        #expect(lsids(requests) == ["e0", "e0", "e1", "e2"])
        #expect(requests.dropFirst().allSatisfy { $0.url == "http://new.example/" })
    }

    @Test("removing a recipient discards its pending events")
    func remove() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        for _ in 0..<4 { m.emit() }
        #expect(m.agent.removeRecipient("r") == .ok)
        #expect(m.agent.removeRecipient("r") == .notFound)
        #expect((try m.status()["recipients"] as! [Any]).isEmpty)
        #expect(m.log.entries(.eventsDiscarded).first?.message.contains("4 pending events discarded") == true)
        let queue = try m.status()["queue"] as! [String: Any]
        #expect(queue["queued_events"] as? Int == 0)
    }

    @Test("names are unique across both kinds; at most 64 recipients")
    func names() throws {
        let m = try ManualAgent()
        try m.agent.putEmailRecipient("shared", [("addresses", "a@example.com")])
        #expect(throws: ConfigError.self) { try m.put("shared", [("url", "http://r.example/")]) }
        do { try m.put("shared", [("url", "http://r.example/")]) } catch { #expect(error.code == .exists) }
        for i in 1..<64 { try m.put("r\(i)", [("url", "http://r.example/")]) }
        do {
            try m.put("one-too-many", [("url", "http://r.example/")])
            Issue.record("the 65th recipient was accepted")
        } catch {
            #expect(error.code == .state)
        }
    }

    @Test("an event no recipient wants is OE_OK and stored nowhere")
    func unwanted() throws {
        let m = try ManualAgent()
        #expect(m.emit() == .ok)
        try m.put("ends", [("url", "http://r.example/"), ("events", "support_conference_end")])
        #expect(m.emit("support_conference_begin") == .ok)
        #expect((try m.status()["queue"] as! [String: Any])["queued_events"] as? Int == 0)
    }

    @Test("a timestamp variable sets the event's time; standard variables cannot be overridden")
    func emitValidation() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        #expect(m.emit("support_conference_begin", [("timestamp", "1600000000"), ("lsid", "t")]) == .ok)
        #expect(m.emit("support_conference_begin", [("event", "spoof")]) == .invalid)
        #expect(m.emit("support_conference_begin", [("appliance_id", "spoof")]) == .invalid)
        #expect(m.emit("support_conference_begin", [("timestamp", "yesterday")]) == .invalid)
        #expect(m.emit("support_conference_begin", [("", "empty key")]) == .invalid)
        #expect(m.emit("support_conference_begin", [(String(repeating: "k", count: 256), "x")]) == .invalid)
        #expect(m.emit("no_such_event") == .invalid)
        m.turn()
        let body = try #require(m.transport.requests.first?.body)
        #expect(body.contains("&timestamp=1600000000&"))
        #expect(!body.contains("&timestamp=1600000000&appliance_id")
                    || body.components(separatedBy: "timestamp=").count == 2)
    }

    @Test("drop_oldest evicts and counts per recipient; reject refuses with OE_EQUEUEFULL")
    func overflow() throws {
        let dropping = try ManualAgent([("queue.capacity", "4096")])
        try dropping.put("r", [("url", "http://r.example/")])
        let pad = String(repeating: "x", count: 200)
        for i in 0..<50 { #expect(dropping.emit("support_conference_begin", [("lsid", "e\(i)"), ("pad", pad)]) == .ok) }
        let dropped = try dropping.recipient("r")["dropped_overflow"] as! Int
        #expect(dropped > 0)
        #expect((try dropping.status()["queue"] as! [String: Any])["dropped_overflow"] as? Int == dropped)
        dropping.clock.advance(1000)
        dropping.turn()
        #expect(dropping.log.entries(.queueOverflow).count == 1, "overflow is summarised, not logged per event")

        let rejecting = try ManualAgent([("queue.capacity", "4096"), ("queue.overflow", "reject")])
        try rejecting.put("r", [("url", "http://r.example/")])
        var results: [ResultCode] = []
        for i in 0..<50 {
            results.append(rejecting.emit("support_conference_begin", [("lsid", "e\(i)"), ("pad", pad)]))
        }
        #expect(results.contains(.queueFull))
        #expect(results.prefix { $0 == .ok }.count == results.filter { $0 == .ok }.count,
                "once full, every emit is refused")
    }

    @Test("a recipient failing for an hour logs one failing entry, a summary every 5 minutes and one recovery")
    func noLogStorm() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/"), ("retry_interval", "10s")])
        m.emit()
        m.turn()
        for _ in 0..<360 {
            m.transport.fail(0)
            m.turn()
            m.clock.advance(10_000)
            m.turn()
        }
        m.transport.succeed(0)
        m.settle()
        #expect(m.log.entries(.recipientFailing).count == 1)
        let summaries = m.log.entries(.recipientStillFailing).count
        #expect((11...12).contains(summaries), "\(summaries) summaries in an hour")
        #expect(m.log.entries(.recipientRecovered).count == 1)
        #expect(m.log.entries.count <= 15)
        let failing = m.log.entries(.recipientFailing)[0]
        #expect(failing.field("OE_HTTP_STATUS") == "503")
        #expect(failing.field("OE_URL") == "http://r.example/")
        #expect(failing.field("OE_ATTEMPT") == "1")
        #expect(failing.priority == .warning)
    }

    @Test("status shows failing_since and the last error while failing, OK afterwards")
    func statusWhileFailing() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://user:pw@r.example/"), ("retry_interval", "10s")])
        m.emit()
        m.turn()
        m.transport.fail(0)
        m.settle()
        var recipient = try m.recipient("r")
        #expect(recipient["status"] as? String == "HTTP 503 Service Unavailable")
        #expect(recipient["failing_since"] as? Int == Int(m.clock.unixSeconds()))
        #expect(recipient["url"] as? String == "http://***@r.example/")
        m.clock.advance(10_000)
        m.turn()
        m.transport.succeed(0)
        m.settle()
        recipient = try m.recipient("r")
        #expect(recipient["status"] as? String == "OK")
        #expect(recipient["failing_since"] is NSNull)
        #expect(recipient["last_http_status"] as? Int == 200)
    }

    @Test("closing without a spool logs how many events were lost")
    func closeLogsLoss() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        for _ in 0..<3 { m.emit() }
        m.turn()
        m.agent.close()
        let lost = try #require(m.log.entries(.eventsLostAtShutdown).first)
        #expect(lost.message.contains("3 undelivered events lost"))
        #expect(lost.priority == .error)
    }

    @Test("once close has begun, configuration is refused with OE_ESTATE and nothing touches the queue")
    func configurationAfterClose() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        m.agent.close()
        #expect(throws: ConfigError(.state, "the agent is closing: its configuration can no longer change")) {
            try m.put("s", [("url", "http://s.example/")])
        }
        #expect(throws: ConfigError.self) { try m.put("r", [("url", "http://r2.example/")]) }
        #expect(throws: ConfigError.self) { try m.agent.configure([(key: "appliance_id", value: "x")]) }
        #expect(m.agent.removeRecipient("r") == .state)
    }

    @Test("switching to cloud is refused while a recipient has a plain http URL")
    func cloudSwitch() throws {
        let m = try ManualAgent()
        try m.put("r", [("url", "http://r.example/")])
        #expect(throws: ConfigError.self) { try m.agent.configure([(key: "deployment", value: "cloud")]) }
        try m.put("r", [("url", "https://r.example/")])
        try m.agent.configure([(key: "deployment", value: "cloud")])
        #expect(throws: ConfigError.self) { try m.put("s", [("url", "https://s.example:8443/")]) }
    }
}

@Suite("Firmware profiles from a file")
struct ProfileFileTests {
    @Test("firmware_profile loads a firmware's own catalog: its events go out with its version; others are refused")
    func ownProfile() throws {
        let path = temporaryDirectory("profile").path + "/door.profile"
        try """
            name = Door Controller
            version = 9
            event.door_opened.label = Door opened
            event.door_opened.http = true
            event.door_opened.email = true
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let m = try ManualAgent([("firmware_profile", path)])
        try m.put("r", [("url", "http://r.example/")])
        #expect(m.emit("door_opened", [("door", "3")]) == .ok)
        #expect(m.emit("support_conference_begin") == .invalid)
        m.turn()
        #expect(m.transport.requests.first?.body.hasPrefix("event=door_opened&version=9&") == true)
        #expect(throws: ConfigError.self) { try ManualAgent([("firmware_profile", path + ".missing")]) }
    }
}

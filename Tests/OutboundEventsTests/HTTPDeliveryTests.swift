import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// The promises of SPEC sections 1 and 2 against real HTTP servers on 127.0.0.1 and the real
/// libcurl transport. Every wait has a deadline.
@Suite("HTTP delivery over the network")
struct HTTPDeliveryTests {
    @Test("an event arrives as the appliance sends it: form body in order, headers, user agent")
    func wireFormat() throws {
        let receiver = try Receiver()
        let live = try LiveAgent([("appliance_id", "bseries-test")])
        try live.put("r", [("url", receiver.url), ("send_custom_fields", "true")])
        live.emit("support_conference_end", [("lsid", "L-1"), ("external_key", "T 7"), ("type", "support"),
                                             ("username", "ann"), ("display_name", "Ann Bé")],
                  custom: [("region", "EU&US")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let request = try #require(receiver.requests.first)
        #expect(request.fields.map(\.0) == ["event", "version", "timestamp", "appliance_id", "lsid", "external_key",
                                            "type", "username", "display_name", "custom_region"])
        #expect(request.field("event") == "support_conference_end")
        #expect(request.field("version") == "3")
        #expect(request.field("appliance_id") == "bseries-test")
        #expect(request.field("display_name") == "Ann Bé")
        #expect(request.field("custom_region") == "EU&US")
        #expect(request.headers["user-agent"] == "outbound-events/1.0.0")
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(request.headers["webhook-id"]?.hasPrefix("evt_") == true)
        let sent = try #require(Int(request.headers["webhook-timestamp"] ?? ""))
        #expect(abs(sent - Int(Date().timeIntervalSince1970)) < 30)
        #expect(request.headers["expect"] == nil)
    }

    @Test("while the receiver fails nothing overtakes the head event; on recovery all arrive in order")
    func orderUnderFailure() throws {
        let receiver = try Receiver(control: "503")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "200ms")])
        for i in 0..<10 { live.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        #expect(waitUntil { receiver.requests.count >= 3 })
        #expect(Set(receiver.lsids()) == ["e0"])
        let failing = live.recipient("r")
        #expect((failing["status"] as? String)?.hasPrefix("HTTP 503") == true)
        #expect(failing["failing_since"] is Int)
        receiver.setControl("200")
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let delivered = receiver.requests.filter { _ in true }.map { $0.field("lsid")! }
        let afterFailures = Array(delivered.drop { $0 == "e0" })
        #expect(["e0"] + afterFailures == (0..<10).map { "e\($0)" })
        #expect(live.recipient("r")["status"] as? String == "OK")
        #expect(live.log.entries(.recipientRecovered).count == 1)
    }

    @Test("a receiver that is down and comes back gets everything it missed, in order")
    func downThenUp() throws {
        let receiver = try Receiver()
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "200ms")])
        receiver.stop()
        for i in 0..<20 { live.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        let status = live.recipient("r")["status"] as? String ?? ""
        #expect(status.contains("Connection refused") || status.contains("Couldn't connect"), "status: \(status)")
        try receiver.restart()
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == (0..<20).map { "e\($0)" })
    }

    @Test("an event failing past retry_duration is dropped and counted; the next one goes")
    func expiry() throws {
        let receiver = try Receiver(control: "500")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "100ms"), ("retry_duration", "500ms")])
        live.emit("support_conference_begin", [("lsid", "doomed")])
        #expect(waitUntil { live.recipient("r")["dropped_expired"] as? Int == 1 })
        receiver.setControl("200")
        live.emit("support_conference_begin", [("lsid", "next")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids().last == "next")
        #expect(receiver.lsids().filter { $0 == "doomed" }.count >= 2)
        #expect(live.log.entries(.eventExpired).count == 1)
    }

    @Test("success is HTTP 200 and nothing else", arguments: ["201", "204", "404", "500"])
    func only200(_ status: String) throws {
        let receiver = try Receiver(control: status)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["last_http_status"] as? Int == Int(status) })
        #expect(live.recipient("r")["delivered"] as? Int == 0)
        #expect((live.recipient("r")["status"] as? String)?.hasPrefix("HTTP \(status)") == true)
    }

    @Test("a redirect is not followed and counts as a failure, logged as such")
    func redirect() throws {
        let receiver = try Receiver(control: "302")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["last_http_status"] as? Int == 302 })
        let status = live.recipient("r")["status"] as? String ?? ""
        #expect(status.contains("redirect to http://127.0.0.1:9/elsewhere not followed"), "status: \(status)")
        #expect(receiver.requests.count == 1)
        #expect(waitUntil { live.log.entries(.recipientFailing).first?.field("OE_HTTP_STATUS") == "302" })
    }

    @Test("a receiver that never answers does not delay a healthy one")
    func deadDoesNotDelayLive() throws {
        let hanging = try Receiver(control: "hang")
        let healthy = try Receiver()
        let live = try LiveAgent([("http.request_timeout", "30s")])
        try live.put("hanging", [("url", hanging.url)])
        try live.put("healthy", [("url", healthy.url)])
        let start = Date()
        for i in 0..<20 { live.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        #expect(waitUntil(10) { healthy.requests.count == 20 })
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(healthy.lsids() == (0..<20).map { "e\($0)" })
        #expect(live.agent.flush(timeout: 200) == .timedOut)
    }

    @Test("a request that takes longer than http.request_timeout fails as a timeout")
    func requestTimeout() throws {
        let hanging = try Receiver(control: "hang")
        let live = try LiveAgent([("http.request_timeout", "500ms")])
        try live.put("r", [("url", hanging.url), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        let status = live.recipient("r")["status"] as? String ?? ""
        #expect(status.lowercased().contains("timed out"), "status: \(status)")
    }

    @Test("a huge response body is cut after a bounded read and a 200 still counts")
    func hugeResponse() throws {
        let receiver = try Receiver(control: "huge")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url)])
        live.emit()
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(live.recipient("r")["delivered"] as? Int == 1)
    }

    @Test("a connection reset mid-response is a failure and the event is retried")
    func reset() throws {
        let receiver = try Receiver(control: "sequence reset 200")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url), ("retry_interval", "100ms")])
        live.emit("support_conference_begin", [("lsid", "x")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.lsids() == ["x"])
        #expect(live.log.entries(.recipientFailing).count == 1)
    }

    @Test("four threads emitting at once: every event arrives, each thread's in its order")
    func concurrentEmitters() throws {
        let receiver = try Receiver()
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.url)])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for i in 0..<100 { live.emit("support_conference_begin", [("lsid", "t\(thread)-\(i)")]) }
        }
        #expect(live.agent.flush(timeout: 30_000) == .ok)
        let received = receiver.lsids()
        #expect(received.count == 400)
        for thread in 0..<4 {
            #expect(received.filter { $0.hasPrefix("t\(thread)-") } == (0..<100).map { "t\(thread)-\($0)" })
        }
    }

    @Test("closing without a spool delivers for up to shutdown_timeout, then logs what it lost")
    func shutdownTimeout() throws {
        let receiver = try Receiver()
        do {
            let live = try LiveAgent([("shutdown_timeout", "10s")])
            try live.put("r", [("url", receiver.url)])
            for i in 0..<20 { live.emit("support_conference_begin", [("lsid", "e\(i)")]) }
        }
        #expect(receiver.lsids() == (0..<20).map { "e\($0)" }, "close waited for every event")

        receiver.stop()
        let live = try LiveAgent([("shutdown_timeout", "500ms")])
        try live.put("r", [("url", receiver.url), ("retry_interval", "100ms")])
        for _ in 0..<3 { live.emit() }
        let start = Date()
        live.agent.close()
        #expect(Date().timeIntervalSince(start) < 3, "close gave up after shutdown_timeout")
        #expect(live.log.entries(.eventsLostAtShutdown).first?.message.contains("3 undelivered events lost") == true)
    }

    @Test("the status document has every field of SPEC section 3")
    func statusFields() throws {
        let receiver = try Receiver()
        let live = try LiveAgent([("queue.capacity", "1MiB")])
        try live.put("r", [("url", receiver.url)])
        try live.agent.putEmailRecipient("mail", [(key: "addresses", value: "ops@example.com")])
        live.emit()
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let status = try statusObject(live.agent)
        #expect(status["version"] as? String == "1.0.0")
        let queue = status["queue"] as! [String: Any]
        #expect(queue["capacity_bytes"] as? Int == 1 << 20)
        for key in ["used_bytes", "queued_events", "dropped_overflow"] { #expect(queue[key] is Int, "queue.\(key)") }
        #expect((status["smtp"] as! [String: Any])["status"] is String)
        let recipients = status["recipients"] as! [[String: Any]]
        #expect(recipients.map { $0["kind"] as? String } == ["http", "email"])
        for recipient in recipients {
            for key in ["name", "kind", "enabled", "url", "status", "queued_events", "delivered", "dropped_expired",
                        "dropped_overflow", "failing_since", "last_http_status"] {
                #expect(recipient.keys.contains(key), "recipients[].\(key)")
            }
        }
        #expect(recipients[0]["delivered"] as? Int == 1)
    }
}

import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// SPEC 10: JSON bodies that the official Standard Webhooks library verifies and parses, form
/// bodies it verifies, and signing secrets rotated without a receiver missing a beat. The
/// receiver is written with that library (scripts/receiver.py --verify).
@Suite("For receivers: Standard Webhooks JSON bodies and secret rotation")
struct ReceiverFormatTests {
    static let secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let secretB = "whsec_" + Data("a second secret, rotated in".utf8).base64EncodedString()

    @Test("body_format = json: the official library verifies every event and parses type, timestamp and data in order, custom fields and non-ASCII intact")
    func json() throws {
        let receiver = try Receiver(verify: [Self.secretA])
        let live = try LiveAgent([("appliance_id", "bseries-01")])
        try live.put("siem", [("url", receiver.url), ("body_format", "json"), ("signing_secret", Self.secretA),
                              ("send_custom_fields", "true")])
        let variables = [("lsid", "7f3a"), ("external_key", "INC-4711"), ("username", "Jürgen 東京"),
                         ("display_name", "say \"hi\"\\n\tthere\u{1}"), ("timestamp", "1700000000")]
        live.emit("support_conference_end", variables, custom: [("region", "EMEA"), ("ticket", "ü")])
        live.emit("support_conference_begin", [("lsid", "second")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let requests = receiver.requests
        #expect(requests.count == 2)
        for request in requests {
            #expect(request.verifiedSecret == 0, "\(request.verifyError ?? "")")
            #expect(request.headers["content-type"] == "application/json")
        }
        let payload = try #require(requests.first?.payload as? [String: Any])
        #expect(payload["type"] as? String == "support_conference_end")
        #expect(payload["timestamp"] as? String == "2023-11-14T22:13:20Z", "the event's own time, RFC 3339 UTC")
        let data = try #require(payload["data"] as? [String: Any])
        #expect(requests.first?.dataKeys == ["event", "version", "timestamp", "appliance_id", "lsid", "external_key",
                                             "username", "display_name", "custom"])
        #expect(data["event"] as? String == "support_conference_end")
        #expect(data["timestamp"] as? String == "1700000000")
        #expect(data["appliance_id"] as? String == "bseries-01")
        #expect(data["version"] is String)
        #expect(data["username"] as? String == "Jürgen 東京")
        #expect(data["display_name"] as? String == "say \"hi\"\\n\tthere\u{1}")
        #expect(data["custom"] as? [String: String] == ["region": "EMEA", "ticket": "ü"])
        let second = try #require(requests.last?.payload as? [String: Any])
        #expect((second["data"] as? [String: Any])?["custom"] as? [String: String] == [:])
    }

    @Test("without send_custom_fields a JSON body has no custom object; form bodies verify with the library too")
    func customOffAndForm() throws {
        let receiver = try Receiver(verify: [Self.secretA])
        let live = try LiveAgent()
        try live.put("json", [("url", receiver.url), ("body_format", "json"), ("signing_secret", Self.secretA)])
        try live.put("form", [("url", receiver.url), ("signing_secret", Self.secretA)])
        live.emit("support_conference_end", [("lsid", "1")], custom: [("region", "EMEA")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.verifiedSecret == 0 }, "\(requests.map { $0.verifyError ?? "" })")
        let json = try #require(requests.first { $0.headers["content-type"] == "application/json" })
        #expect(json.dataKeys == ["event", "version", "timestamp", "appliance_id", "lsid"])
        let form = try #require(requests.first {
            $0.headers["content-type"]?.hasPrefix("application/x-www-form-urlencoded") == true
        })
        #expect(form.field("lsid") == "1")
    }

    @Test("a variable named custom beside send_custom_fields: data.custom stays the custom fields object, the variable arrives as custom_, no key twice")
    func customVariable() throws {
        let withCustom = try Receiver(verify: [Self.secretA]), without = try Receiver(verify: [Self.secretA])
        let live = try LiveAgent()
        try live.put("with", [("url", withCustom.url), ("body_format", "json"), ("signing_secret", Self.secretA),
                              ("send_custom_fields", "true")])
        try live.put("without", [("url", without.url), ("body_format", "json"), ("signing_secret", Self.secretA)])
        live.emit("support_conference_end", [("lsid", "1"), ("custom", "from the firmware"), ("custom_", "also")],
                  custom: [("region", "EMEA")])
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        let request = try #require(withCustom.requests.first)
        #expect(request.verifiedSecret == 0, "\(request.verifyError ?? "")")
        #expect(request.dataKeys
                    == ["event", "version", "timestamp", "appliance_id", "lsid", "custom_", "custom__", "custom"])
        let data = try #require((request.payload as? [String: Any])?["data"] as? [String: Any])
        #expect(data["custom"] as? [String: String] == ["region": "EMEA"])
        #expect(data["custom_"] as? String == "from the firmware")
        #expect(data["custom__"] as? String == "also")
        let plain = try #require(without.requests.first)
        #expect(plain.dataKeys == ["event", "version", "timestamp", "appliance_id", "lsid", "custom", "custom_"],
                "without the custom fields object the variables keep their names")
        #expect((plain.payload as? [String: Any])?["data"].flatMap { ($0 as? [String: Any])?["custom"] } as? String
                    == "from the firmware")
    }

    @Test("secret rotation: one v1 signature per secret; a receiver that knows either secret verifies")
    func rotation() throws {
        let knowsA = try Receiver(verify: [Self.secretA])
        let knowsB = try Receiver(verify: [Self.secretB])
        let knowsNeither = try Receiver(verify: ["whsec_" + Data("someone else".utf8).base64EncodedString()])
        let live = try LiveAgent()
        for (name, receiver) in [("a", knowsA), ("b", knowsB), ("neither", knowsNeither)] {
            try live.put(name, [("url", receiver.url), ("body_format", "json"), ("retry_interval", "1h"),
                                ("signing_secret", "\(Self.secretA) \(Self.secretB)")])
        }
        live.emit("support_conference_begin", [("lsid", "rotating")])
        #expect(waitUntil {
            knowsA.requests.count == 1 && knowsB.requests.count == 1 && knowsNeither.requests.count == 1
        })
        let signature = try #require(knowsA.requests.first?.headers["webhook-signature"])
        let parts = signature.split(separator: " ")
        #expect(parts.count == 2 && parts.allSatisfy { $0.hasPrefix("v1,") }, "\(signature)")
        #expect(knowsA.requests.first?.verifiedSecret == 0)
        #expect(knowsB.requests.first?.verifiedSecret == 0)
        #expect(knowsNeither.requests.first?.verifiedSecret == nil)
        #expect(waitUntil { live.recipient("neither")["last_http_status"] as? Int == 401 })
        do {
            try live.put("four", [("url", knowsA.url), ("signing_secret", "a b c d")])
            Issue.record("four secrets accepted")
        } catch {
            #expect(error.message == "signing_secret: 4 secrets given; at most 3 are allowed, separated by spaces"
                                         + " (the values are not shown)")
        }
        do {
            try live.put("bad", [("url", knowsA.url), ("signing_secret", "\(Self.secretA) whsec_!!")])
            Issue.record("a bad second secret accepted")
        } catch {
            #expect(error.message.hasPrefix("signing_secret: secret 2 of 2: "), "\(error.message)")
        }
    }
}

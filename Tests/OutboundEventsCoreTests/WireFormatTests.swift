import Testing
@testable import OutboundEventsCore

/// Stores one event in a queue and hands its view to `body`.
func withStoredEvent<R>(_ name: String, _ variables: [(String, String)], custom: [(String, String)] = [],
                        timestamp: Int64 = 1_795_000_000, _ body: (EventView) -> R) -> R {
    let f = QueueFixture(capacity: 64 * 1024)
    f.activate(0)
    let bytes = Array(name.utf8)
    StringFields(variables).withFields { vars in
        StringFields(custom).withFields { customs in
            let size = EventRecord.size(nameLength: bytes.count, variables: vars, customFields: customs)!
            _ = bytes.withUnsafeBytes {
                f.queue.append(size: size, mask: 1, timestamp: timestamp, name: $0,
                               variables: vars, customFields: customs)
            }
        }
    }
    return body(f.queue.beginDelivery(0)!)
}

@Suite("What goes on the wire")
struct WireFormatTests {
    let wire = WireFormat(version: "3", applianceID: "bseries-01", instance: 0xABCD)

    func body(_ event: EventView, custom: Bool) -> String {
        var bytes: [UInt8] = []
        wire.body(of: event, customFields: custom, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("the JSON body: type, RFC 3339 time, data with the standard variables then the event's own, custom when on")
    func json() {
        withStoredEvent("support_conference_end", [("lsid", "L1"), ("note", "a \"q\" \\ \n\u{1} é")],
                        custom: [("priority", "high")], timestamp: 1_700_000_000) { event in
            var bytes: [UInt8] = []
            wire.jsonBody(of: event, customFields: true, into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) ==
                #"{"type":"support_conference_end","timestamp":"2023-11-14T22:13:20Z","#
                    + #""data":{"event":"support_conference_end","version":"3","timestamp":"1700000000","#
                    + #""appliance_id":"bseries-01","lsid":"L1","note":"a \"q\" \\ \n\u0001 é","#
                    + #""custom":{"priority":"high"}}}"#)
            wire.jsonBody(of: event, customFields: false, into: &bytes)
            #expect(!String(decoding: bytes, as: UTF8.self).contains("custom"))
        }
    }

    @Test("a JSON body never has a key twice: beside the custom fields, a variable named custom (or custom and underscores) gets one underscore more")
    func jsonCustomVariable() {
        withStoredEvent("support_conference_end", [("custom", "a"), ("custom_", "b"), ("customer", "c")],
                        custom: [("region", "EMEA")], timestamp: 1_700_000_000) { event in
            var bytes: [UInt8] = []
            wire.jsonBody(of: event, customFields: true, into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self).hasSuffix(
                #""appliance_id":"bseries-01","custom_":"a","custom__":"b","customer":"c","#
                    + #""custom":{"region":"EMEA"}}}"#))
            wire.jsonBody(of: event, customFields: false, into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self)
                        .hasSuffix(#""appliance_id":"bseries-01","custom":"a","custom_":"b","customer":"c"}}"#),
                    "without the custom fields object the names stay")
        }
    }

    @Test("bytes that are not UTF-8 become U+FFFD in a JSON body, which always parses")
    func jsonInvalidUTF8() {
        var bytes: [UInt8] = []
        ([0x61, 0xFF, 0x62] as [UInt8]).withUnsafeBytes { WireFormat.appendJSONString($0, to: &bytes) }
        #expect(bytes == Array("\"a\u{FFFD}b\"".utf8))
    }

    @Test("standard variables first, then the event's own in order, then custom fields when on")
    func order() {
        withStoredEvent("support_conference_end",
                        [("lsid", "L1"), ("external_key", "T-7"), ("type", "rep"), ("username", "ann"),
                         ("display_name", "Ann B")],
                        custom: [("priority", "high")]) { event in
            #expect(body(event, custom: false) ==
                "event=support_conference_end&version=3&timestamp=1795000000&appliance_id=bseries-01"
                    + "&lsid=L1&external_key=T-7&type=rep&username=ann&display_name=Ann+B")
            #expect(body(event, custom: true).hasSuffix("&display_name=Ann+B&custom_priority=high"))
        }
    }

    @Test("values are form-encoded as the URL standard says")
    func encoding() {
        #expect(WireFormat.formEncode("a b&c=d") == "a+b%26c%3Dd")
        #expect(WireFormat.formEncode("*-._~") == "*-._%7E")
        #expect(WireFormat.formEncode("ümlaut") == "%C3%BCmlaut")
        #expect(WireFormat.formEncode("line\r\nbreak") == "line%0D%0Abreak")
        #expect(WireFormat.formEncode("100%") == "100%25")
    }

    @Test("the body carries the event's own time, not the send time")
    func timestamp() {
        withStoredEvent("support_conference_begin", [], timestamp: 1_600_000_000) { event in
            #expect(body(event, custom: false).contains("&timestamp=1600000000&"))
        }
    }

    @Test("event ids are evt_ and 32 hex digits: instance, then sequence")
    func eventIDs() {
        #expect(wire.eventID(seq: 1) == "evt_000000000000abcd0000000000000001")
        #expect(wire.eventID(seq: 255).count == 36)
    }

    @Test("the Standard Webhooks signing input is id.timestamp.body")
    func signingInput() {
        var input: [UInt8] = []
        WireFormat.signingInput(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                body: Array("{\"test\": 2432232314}".utf8), into: &input)
        #expect(String(decoding: input, as: UTF8.self)
                    == "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}")
    }

    @Test("base64 round-trips and refuses garbage")
    func base64() {
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64.decode("a$==") == nil)
        #expect(Base64.decode("a") == nil)
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}

@Suite("Email templates and time formatting")
struct TemplateTests {
    func values(_ variables: [(String, String)], custom: [(String, String)] = []) -> MacroValues {
        withStoredEvent("support_conference_end", variables, custom: custom, timestamp: 1_795_000_000) { event in
            MacroValues(event: event, label: "Session end", version: "3", applianceID: "bseries-01")
        }
    }

    @Test("macros render variables case-insensitively, custom fields, label, time and %%")
    func render() throws {
        let template = try Template("body", "%EVENT_LABEL% %lsid% %LSID% %CUSTOM:Ticket% %TIME%"
                                                + " %APPLIANCE_ID% %EVENT% 100%% %MISSING%.")
        let text = template.render(values([("lsid", "L1")], custom: [("ticket", "T-9")]))
        #expect(text == "Session end L1 L1 T-9 2026-11-18T11:06:40Z bseries-01 support_conference_end 100% .")
    }

    @Test("an unclosed percent sign is refused when set")
    func unclosed() {
        #expect(throws: ConfigError.self) { try Template("subject", "50% off") }
        #expect(throws: ConfigError.self) { try Template("subject", "%has space%") }
    }

    @Test("RFC 3339 UTC from Unix seconds")
    func rfc3339() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(1_795_000_000) == "2026-11-18T11:06:40Z")
        #expect(RFC3339.format(-1) == "1969-12-31T23:59:59Z")
    }
}

@Suite("The status JSON writer")
struct JSONWriterTests {
    @Test("escapes what JSON requires and nests objects and arrays")
    func escaping() {
        var json = JSONWriter()
        json.object { json in
            json.field("s", "quote\" back\\ nl\n ctl\u{1}")
            json.field("n", nil as String?)
            json.field("b", true)
            json.array("a") { json in json.element("x"); json.element("y") }
            json.object("o") { json in json.field("i", 3) }
        }
        #expect(json.text == #"{"s":"quote\" back\\ nl\n ctl\u0001","n":null,"b":true,"a":["x","y"],"o":{"i":3}}"#)
    }
}

import Testing
@testable import OutboundEventsCore

@Suite("Setting values are parsed strictly and refused with the key named")
struct ValuesTests {
    @Test("durations take s, m, h, d, w, ms or plain seconds")
    func durations() throws {
        #expect(try Values.duration("k", "30s") == 30_000)
        #expect(try Values.duration("k", "5m") == 300_000)
        #expect(try Values.duration("k", "2h") == 7_200_000)
        #expect(try Values.duration("k", "1d") == 86_400_000)
        #expect(try Values.duration("k", "1w") == 604_800_000)
        #expect(try Values.duration("k", "45") == 45_000)
        #expect(try Values.duration("k", "250ms") == 250)
        #expect(try Values.duration("k", " 10s ") == 10_000)
        #expect(try Values.duration("k", "0") == 0)
    }

    @Test("a bad duration names the key and the value", arguments: ["", "s", "5x", "-1s", "1.5h", "1 h", "99999999999999w", "5M"])
    func badDurations(_ text: String) {
        #expect {
            try Values.duration("retry_interval", text)
        } throws: { error in
            let error = error as! ConfigError
            return error.code == .invalid && error.message.hasPrefix("retry_interval: ")
        }
    }

    @Test("a positive duration refuses zero")
    func positive() {
        #expect(throws: ConfigError.self) { try Values.positiveDuration("k", "0s") }
    }

    @Test("sizes take KiB, MiB, GiB or plain bytes")
    func sizes() throws {
        #expect(try Values.size("k", "512KiB") == 524_288)
        #expect(try Values.size("k", "8MiB") == 8_388_608)
        #expect(try Values.size("k", "1GiB") == 1_073_741_824)
        #expect(try Values.size("k", "4096") == 4096)
        #expect(throws: ConfigError.self) { try Values.size("k", "8MB") }
        #expect(throws: ConfigError.self) { try Values.size("k", "lots") }
    }

    @Test("booleans are true or false and nothing else")
    func booleans() throws {
        #expect(try Values.boolean("k", "true"))
        #expect(try !Values.boolean("k", "false"))
        for text in ["yes", "1", "TRUE", ""] {
            #expect(throws: ConfigError.self) { try Values.boolean("k", text) }
        }
    }

    @Test("lists split on commas and ignore blanks")
    func lists() {
        #expect(Values.list(" a, b ,,c ") == ["a", "b", "c"])
        #expect(Values.list("") == [])
    }

    @Test("recipient names are 1 to 64 printable characters, any script")
    func names() throws {
        try Values.recipientName("Ticketing (prod)")
        try Values.recipientName("Tickets – Zürich 東京")
        try Values.recipientName(String(repeating: "ü", count: 64))
        try Values.recipientName(String(repeating: "\u{1F600}", count: 64))
        for bad in ["", String(repeating: "n", count: 65), "tab\there", "new\nline", "nul\u{0}", "bidi\u{202E}",
                    "del\u{7F}"] {
            #expect(throws: ConfigError.self) { try Values.recipientName(bad) }
        }
    }

    @Test("names are counted in Unicode scalars, so every accepted name fits whole in its spool slot")
    func namesFitTheSpool() throws {
        // One character as a person sees it, 201 scalars: too long, though it looks short.
        let combining = "a" + String(repeating: "\u{0301}", count: 200)
        #expect(combining.count == 1)
        #expect(throws: ConfigError.self) { try Values.recipientName(combining) }
        let longest = "a" + String(repeating: "\u{0301}", count: 63)
        try Values.recipientName(longest)
        let widest = String(repeating: "\u{10348}", count: 64)
        try Values.recipientName(widest)
        #expect(widest.utf8.count == 256, "64 four-byte scalars fill a slot's 256 bytes exactly")
    }

    @Test("email addresses are checked one by one and the bad one is named")
    func addresses() throws {
        #expect(try Values.emailAddresses("addresses", "a@example.com, b@mail.example.org",
                                          allowEmpty: false).count == 2)
        let ten = (1...10).map { "user\($0)@example.com" }.joined(separator: ",")
        #expect(try Values.emailAddresses("addresses", ten, allowEmpty: false).count == 10)
        let eleven = ten + ",user11@example.com"
        #expect(throws: ConfigError.invalid("addresses", "11 addresses given; at most 10 are allowed")) {
            try Values.emailAddresses("addresses", eleven, allowEmpty: false)
        }
        #expect {
            try Values.emailAddresses("addresses", "good@example.com, bad@", allowEmpty: false)
        } throws: { ($0 as! ConfigError).message.contains("\"bad@\"") }
        for bad in ["plain", "a@b", "a b@example.com", "a@example..com", "<a@example.com>",
                    "a@example.com\r\nBcc: x@y.z"] {
            #expect(throws: ConfigError.self) { try Values.emailAddress("k", bad) }
        }
    }

    @Test("quoted values escape control characters and are cut when long")
    func quoting() {
        #expect(Values.quote("a\r\nb") == "\"a\\x0d\\x0ab\"")
        #expect(Values.quote(String(repeating: "x", count: 100)).count < 60)
    }
}

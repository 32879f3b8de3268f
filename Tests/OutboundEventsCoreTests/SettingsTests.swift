import Testing
@testable import OutboundEventsCore

@Suite("Agent and recipient settings")
struct SettingsTests {
    let profile = FirmwareProfile.bSeries

    @Test("agent defaults are the spec's")
    func agentDefaults() {
        let settings = AgentSettings()
        #expect(settings.queueCapacity == 4 << 20)
        #expect(settings.queueOverflow == .dropOldest)
        #expect(settings.spoolGrace == 60_000)
        #expect(settings.connectTimeout == 10_000)
        #expect(settings.requestTimeout == 30_000)
        #expect(settings.shutdownTimeout == 5_000)
        #expect(settings.smtp.retryInterval == 60_000)
        #expect(settings.logIdentifier == "outbound-events")
        #expect(settings.logDestination == .journal)
        #expect(settings.deployment == .appliance)
    }

    @Test("every agent key is accepted")
    func everyAgentKey() throws {
        var settings = AgentSettings()
        try settings.apply([
            ("appliance_id", "bseries-01"), ("deployment", "cloud"), ("firmware_profile", "/etc/x.profile"),
            ("queue.capacity", "8MiB"), ("queue.overflow", "reject"), ("queue.spool", "/var/spool/oe"),
            ("queue.spool_grace", "2m"), ("http.connect_timeout", "5s"), ("http.request_timeout", "1m"),
            ("shutdown_timeout", "0"), ("status.path", "/run/oe.json"), ("smtp.host", "mail.example.com"),
            ("smtp.port", "587"), ("smtp.encryption", "tls"), ("smtp.username", "agent"),
            ("smtp.password", "s3cret"), ("smtp.from", "appliance@example.com"), ("smtp.ca_certificate", ""),
            ("smtp.retry_interval", "30s"), ("log.identifier", "oe-test"), ("log.destination", "stderr"),
            ("http.proxy", "http://proxy.example:3128"), ("http.no_proxy", "localhost, .internal.example"),
            ("queue.sync_interval", "250ms"),
        ])
        #expect(settings.queueCapacity == 8 << 20)
        #expect(settings.syncInterval == 250)
        #expect(settings.queueOverflow == .reject)
        #expect(settings.smtp.effectivePort == 587)
        #expect(settings.deployment == .cloud)
        #expect(settings.proxy?.port == 3128 && settings.noProxy == ["localhost", ".internal.example"])
        #expect(Set(AgentSettings.keys).count == 24)
    }

    @Test("queue.sync_interval takes 10ms to 1m and refuses anything else, naming the key")
    func syncIntervalRange() {
        var settings = AgentSettings()
        #expect(settings.syncInterval == 1000)
        for value in ["10ms", "1m", "1s"] {
            #expect((try? settings.apply([("queue.sync_interval", value)])) != nil, "\(value)")
        }
        for value in ["9ms", "61s", "0", "soon"] {
            #expect {
                try settings.apply([("queue.sync_interval", value)])
            } throws: { ($0 as! ConfigError).message.hasPrefix("queue.sync_interval") }
        }
    }

    @Test("an unknown key is refused and named")
    func unknownKey() {
        var settings = AgentSettings()
        #expect {
            try settings.apply([("queue.size", "1MiB")])
        } throws: { ($0 as! ConfigError).message.hasPrefix("\"queue.size\": unknown agent setting") }
    }

    @Test("one bad setting changes nothing")
    func atomic() {
        var settings = AgentSettings()
        let before = settings
        #expect(throws: ConfigError.self) {
            var copy = settings
            try copy.apply([("appliance_id", "new"), ("http.connect_timeout", "soon")])
            settings = copy
        }
        #expect(settings == before)
    }

    @Test("a key given twice in one call is refused")
    func duplicates() {
        var settings = AgentSettings()
        #expect(throws: ConfigError.invalid("appliance_id", "given twice in one call")) {
            try settings.apply([("appliance_id", "a"), ("appliance_id", "b")])
        }
    }

    @Test("the queue capacity must lie between 1 KiB and 1 GiB")
    func capacityRange() {
        var settings = AgentSettings()
        #expect(throws: ConfigError.self) { try settings.set("queue.capacity", "512") }
        #expect(throws: ConfigError.self) { try settings.set("queue.capacity", "2GiB") }
    }

    @Test("control characters never reach identifiers or headers")
    func controlCharacters() {
        var settings = AgentSettings()
        #expect(throws: ConfigError.self) { try settings.set("appliance_id", "a\r\nX-Injected: 1") }
        #expect(throws: ConfigError.self) { try settings.set("smtp.password", "a\nb") }
    }

    @Test("an HTTP recipient needs a url and takes every key of section 4")
    func httpRecipient() throws {
        #expect(throws: ConfigError.invalid("url", "required for an HTTP recipient")) {
            try HTTPRecipientSettings([], profile: profile, deployment: .appliance)
        }
        let settings = try HTTPRecipientSettings([
            ("url", "https://hooks.example.com/x"), ("enabled", "false"), ("ca_certificate", ""),
            ("send_custom_fields", "true"), ("events", "support_conference_begin, support_conference_end"),
            ("retry_interval", "30s"), ("retry_duration", "2h"), ("email_contacts", "ops@example.com"),
            ("email_alert_after", "10m"), ("email_alert_resend", "1h"), ("signing_secret", "abc"),
            ("body_format", "json"),
        ], profile: profile, deployment: .appliance)
        #expect(settings.bodyFormat == .json)
        #expect(!settings.enabled)
        #expect(settings.sendCustomFields)
        #expect(settings.events.contains(0) && settings.events.contains(1) && !settings.events.contains(2))
        #expect(settings.retryInterval == 30_000 && settings.retryDuration == 7_200_000)
        #expect(settings.emailContacts == ["ops@example.com"])
        #expect(settings.signingKeys.map(\.unredactedBytes) == [Array("abc".utf8)])
    }

    @Test("HTTP recipient defaults are the spec's")
    func httpDefaults() throws {
        let settings = try HTTPRecipientSettings([("url", "http://a.example/")], profile: profile,
                                                 deployment: .appliance)
        #expect(settings.enabled && !settings.sendCustomFields && settings.events.isAll)
        #expect(settings.retryInterval == 60_000 && settings.retryDuration == 86_400_000)
        #expect(settings.emailAlertAfter == 3_600_000 && settings.emailAlertResend == 86_400_000)
    }

    @Test("cloud deployment refuses plain http at configuration time")
    func cloud() {
        #expect {
            try HTTPRecipientSettings([("url", "http://a.example/")], profile: profile, deployment: .cloud)
        } throws: { ($0 as! ConfigError).message.contains("cloud") }
    }

    @Test("an event the profile does not declare is refused in events")
    func unknownEvent() {
        #expect {
            try HTTPRecipientSettings([("url", "http://a.example/"), ("events", "support_conference_begn")],
                                      profile: profile, deployment: .appliance)
        } throws: { ($0 as! ConfigError).message.hasPrefix("events: \"support_conference_begn\" is not an event") }
    }

    @Test("email recipients may select email-capable events only; all means those")
    func emailEvents() throws {
        #expect {
            try EmailRecipientSettings([("addresses", "a@example.com"), ("events", "support_conference_begin")],
                                       profile: profile)
        } throws: {
            ($0 as! ConfigError).message == "events: support_conference_begin cannot be sent to email recipients"
        }
        let all = try EmailRecipientSettings([("addresses", "a@example.com")], profile: profile)
        let capable = profile.events.indices.filter { profile.events[$0].email }
        #expect(profile.events.indices.filter(all.events.contains) == capable)
        #expect(capable.count == 3)
    }

    @Test("whsec_ secrets are base64-decoded; others are used as their bytes; errors never show the secret")
    func signingSecrets() throws {
        #expect(try HTTPRecipientSettings.decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                    .unredactedBytes.count == 24)
        #expect(try HTTPRecipientSettings.decodeSecret("plain secret").unredactedBytes == Array("plain secret".utf8))
        #expect {
            try HTTPRecipientSettings.decodeSecret("whsec_not*base64!")
        } throws: { !($0 as! ConfigError).message.contains("not*base64") }
    }
}

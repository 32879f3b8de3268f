#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import OutboundEventsCore

@Suite("Firmware profiles")
struct ProfileTests {
    @Test("the built-in profile is the shipped firmware-profile/b-series.profile")
    func builtInMatchesFile() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let text = try readFile("/" + path + "/firmware-profile/b-series.profile")
        #expect(text == embeddedBSeriesText + "\n")
    }

    @Test("the B Series catalog has the appliance's seven events and capabilities")
    func catalog() {
        let profile = FirmwareProfile.bSeries
        #expect(profile.events.map(\.name) == [
            "support_conference_begin", "support_conference_end", "support_conference_owner_changed",
            "support_conference_member_added", "support_conference_member_departed",
            "support_conference_customer_exit_survey_completed", "support_conference_rep_exit_survey_completed",
        ])
        #expect(profile.events.allSatisfy { $0.http })
        #expect(profile.events.filter(\.email).map(\.name) == [
            "support_conference_end", "support_conference_customer_exit_survey_completed",
            "support_conference_rep_exit_survey_completed",
        ])
        #expect(profile.events[0].label == "Session start")
    }

    @Test("a firmware's own profile declares its own events and defaults")
    func custom() throws {
        let profile = try FirmwareProfile(parsing: """
            # a test firmware
            name = Test Firmware
            version = 7
            event.door_opened.label = Door opened
            event.door_opened.http = true
            event.door_opened.email = true
            default.http.retry_interval = 5s
            """, source: "test.profile")
        #expect(profile.version == "7")
        #expect(profile.index(of: "door_opened") == 0)
        let settings = try HTTPRecipientSettings([("url", "http://a.example/")], profile: profile,
                                                 deployment: .appliance)
        #expect(settings.retryInterval == 5000)
    }

    @Test("profile errors give the file and line", arguments: [
        ("name = x\nversion = 1\nevent.Bad.label = x", "line 3"),
        ("name = x\nversion = 1\nbogus = 1", "line 3: unknown key"),
        ("name = x\nversion = 1\nevent.a.http = maybe", "line 3"),
        ("name = x\nversion = 1", "declares no event"),
        ("version = 1\nevent.a.label = A\nevent.a.http = true", "no name line"),
        ("name = x\nversion = 1\nevent.a.http = true", "has no label"),
        ("name = x\nversion = 1\njust words", "line 3: expected"),
    ])
    func errors(_ text: String, _ expected: String) {
        #expect {
            try FirmwareProfile(parsing: text, source: "p.profile")
        } throws: { error in
            let message = (error as! ConfigError).message
            return message.hasPrefix("firmware_profile: p.profile") && message.contains(expected)
        }
    }

    @Test("events are looked up by their bytes without making strings")
    func byteLookup() {
        let profile = FirmwareProfile.bSeries
        let name = Array("support_conference_end".utf8)
        #expect(name.withUnsafeBytes { profile.index(of: $0) } == 1)
        let wrong = Array("support_conference_en".utf8)
        #expect(wrong.withUnsafeBytes { profile.index(of: $0) } == nil)
    }
}

func readFile(_ path: String) throws -> String {
    var bytes: [UInt8] = []
    guard let file = fopen(path, "r") else { throw ConfigError(.io, "cannot open \(path)") }
    defer { fclose(file) }
    while true {
        let c = fgetc(file)
        if c == EOF { break }
        bytes.append(UInt8(c))
    }
    return String(decoding: bytes, as: UTF8.self)
}

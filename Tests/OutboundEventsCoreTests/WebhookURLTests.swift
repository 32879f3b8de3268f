import Testing
@testable import OutboundEventsCore

@Suite("Recipient URLs")
struct WebhookURLTests {
    @Test("http and https URLs with hosts, ports, paths and queries are accepted",
          arguments: ["http://127.0.0.1:8080/hook", "https://hooks.example.com/a/b?x=1&y=2", "https://[::1]:8443/",
                      "HTTPS://Example.COM", "http://user:secret@example.com/path"])
    func valid(_ text: String) throws {
        let url = try WebhookURL("url", text)
        #expect(url.text == text)
    }

    @Test("malformed URLs are refused with a reason",
          arguments: ["", "example.com/hook", "ftp://example.com/", "http://", "http://exa mple.com/",
                      "http://example.com:0/", "http://example.com:70000/", "http://example.com:80x/",
                      "http://-bad-.com/", "http://example.com/#frag", "http://ex\u{e4}mple.com/", "http://[::1/"])
    func invalid(_ text: String) {
        #expect {
            try WebhookURL("url", text)
        } throws: { error in
            let error = error as! ConfigError
            return error.code == .invalid && error.message.hasPrefix("url: ")
        }
    }

    @Test("the default port follows the scheme")
    func ports() throws {
        #expect(try WebhookURL("url", "http://a.example/").port == 80)
        #expect(try WebhookURL("url", "https://a.example/").port == 443)
        #expect(try WebhookURL("url", "https://a.example:8443/").port == 8443)
    }

    @Test("cloud deployment accepts only https on port 443, and says so")
    func cloud() throws {
        try WebhookURL("url", "https://hooks.example.com/x").checkCloud("url")
        try WebhookURL("url", "https://hooks.example.com:443/x").checkCloud("url")
        #expect {
            try WebhookURL("url", "http://hooks.example.com/x").checkCloud("url")
        } throws: { ($0 as! ConfigError).message.contains("https://") }
        #expect {
            try WebhookURL("url", "https://hooks.example.com:8443/x").checkCloud("url")
        } throws: { ($0 as! ConfigError).message.contains("port 443") }
    }

    @Test("a password in the URL never reaches logs or status")
    func redaction() throws {
        #expect(try WebhookURL("url", "https://user:hunter2@example.com/h").redacted == "https://user:***@example.com/h")
        #expect(try WebhookURL("url", "https://token@example.com/h").redacted == "https://***@example.com/h")
    }
}

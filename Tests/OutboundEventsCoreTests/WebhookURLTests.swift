import Testing
@testable import OutboundEventsCore

@Suite("Recipient URLs")
struct WebhookURLTests {
    @Test("http and https URLs with hosts, ports, paths and queries are accepted",
          arguments: ["http://127.0.0.1:8080/hook", "https://hooks.example.com/a/b?x=1&y=2", "https://[::1]:8443/",
                      "HTTPS://Example.COM", "http://user:secret@example.com/path"])
    func valid(_ text: String) throws {
        let url = try WebhookURL("url", text)
        #expect(url.unredactedText == text)
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

    @Test("a URL is shown only as scheme://host[:port]/<first segment>/…, userinfo and query values as ***",
          arguments: [
              ("https://user:hunter2@example.com/h", "https://***@example.com/h"),
              ("https://token@example.com/h", "https://***@example.com/h"),
              ("https://hooks.slack.example/services/T000/B000/XXXXSECRET", "https://hooks.slack.example/services/…"),
              ("https://h.example:8443/hook?token=abc123&x=1", "https://h.example:8443/hook?token=***&x=***"),
              ("https://h.example/a/b?k=v", "https://h.example/a/…?k=***"),
              ("https://h.example/a/", "https://h.example/a/"),
              ("https://h.example", "https://h.example"),
              ("https://h.example/?bare-token", "https://h.example/?***"),
              ("http://[::1]:8080/x", "http://[::1]:8080/x"),
              ("/relative/path/secret?q=1", "/relative/…?q=***"),
          ])
    func redaction(_ text: String, _ shown: String) {
        #expect(URLRedaction.redact(text) == shown)
        if let url = try? WebhookURL("url", text) {
            #expect(url.redacted == shown)
            #expect("\(url)" == shown, "interpolation shows the redacted form")
        }
    }

    @Test("a refused URL is never echoed: no password, path or query reaches the error",
          arguments: ["https://admin:hunter2@hooks.example.com/a b", "admin:hunter2@host/x", "https://u:hunter2/x@h/",
                      "https://admin:hunter2@-bad-/x", "ftp://admin:hunter2@h/x", "https://h/x#hunter2",
                      "https://admin:hunter2@h:99999/", "https://h/hunter2\u{1}", "https://admin:hunter2@[::1/"])
    func refusedNotEchoed(_ text: String) {
        do {
            _ = try WebhookURL("url", text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.hasPrefix("url: "))
            #expect(!error.message.contains("hunter2"), "\(error.message)")
            #expect(!error.message.contains("admin"), "\(error.message)")
        }
    }

    @Test("text a peer sends back is scrubbed of the URL's secrets, whatever they are")
    func scrub() {
        let secrets = URLRedaction.secrets(of: "https://u:pw-123@h.example/hook/T000/***/XXXX?token=abc&x=***")
        #expect(secrets.contains("T000") && secrets.contains("XXXX") && secrets.contains("abc")
                    && secrets.contains("u:pw-123"))
        #expect(URLRedaction.scrub("no route for /hook/T000/***/XXXX?token=abc", secrets: secrets)
                == "no route for /hook/***/***/***?token=***")
        #expect(URLRedaction.scrub("aaaa", secrets: ["aa", ""]) == "******")
        // A peer may echo the path percent-decoded.
        let encoded = URLRedaction.secrets(of: "https://h.example/a/sig%2Bpart%2F42")
        #expect(URLRedaction.scrub("bad signature sig+part/42", secrets: encoded) == "bad signature ***")
    }

    @Test("a secret's only printable form is ***")
    func secret() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "***")
        #expect(String(describing: [secret]).contains("***") && !String(describing: [secret]).contains("hunter2"))
        #expect(secret.unredactedText == "hunter2")
    }
}

import Foundation
import Testing
@testable import OutboundEventsCore

@Suite("Email messages as mail systems accept them")
struct MailMessageTests {
    func render(subject: String = "Session end: session L1", body: String = "hello\n") -> String {
        let message = MailMessage(from: "appliance@example.com", to: ["a@example.com", "b@example.com"],
                                  subject: subject, body: body, date: 1_795_000_000, messageID: "evt_1.r0@example.com")
        return String(decoding: message.rendered(), as: UTF8.self)
    }

    func headers(_ text: String) -> [String] {
        String(text[..<text.firstRange(of: "\r\n\r\n")!.lowerBound]).components(separatedBy: "\r\n")
    }

    @Test("RFC 5322 headers with MIME, CRLF line ends")
    func headerSet() {
        let text = render()
        let names = headers(text).filter { !$0.hasPrefix(" ") }.map { String($0.prefix { $0 != ":" }) }
        #expect(names == ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                          "Content-Transfer-Encoding", "Auto-Submitted"])
        #expect(text.contains("Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"))
        #expect(text.contains("Content-Type: text/plain; charset=utf-8\r\n"))
        #expect(text.contains("Message-ID: <evt_1.r0@example.com>\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test("a non-ASCII subject becomes RFC 2047 encoded words of at most 75 characters")
    func encodedSubject() {
        let subject = String(repeating: "Sitzung beendet – Übergabe an Jürgen ", count: 3)
        let lines = headers(render(subject: subject))
        let subjectLines = lines.drop { !$0.hasPrefix("Subject:") }
            .prefix { $0.hasPrefix("Subject:") || $0.hasPrefix(" ") }
        #expect(subjectLines.count > 1)
        for line in subjectLines {
            let word = line.hasPrefix("Subject: ") ? String(line.dropFirst(9)) : String(line.dropFirst())
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?=") && word.count <= 75)
        }
        let decoded = subjectLines.map { line -> String in
            let word = line.hasPrefix("Subject: ") ? String(line.dropFirst(9)) : String(line.dropFirst())
            return String(decoding: Base64.decode(word.dropFirst(10).dropLast(2))!, as: UTF8.self)
        }.joined()
        #expect(decoded == subject)
    }

    @Test("CR and LF in a subject can never start another header")
    func headerInjection() {
        let text = render(subject: "hello\r\nBcc: victim@example.com")
        #expect(!headers(text).contains { $0.hasPrefix("Bcc:") })
        #expect(text.contains("Subject: hello  Bcc: victim@example.com\r\n"))
    }

    @Test("the body is quoted-printable: short lines, no leading dot, UTF-8 escaped")
    func body() {
        let long = String(repeating: "abcdefghij", count: 30)
        let text = render(body: ".\n..leading dots\nümlaut = equals\(long)\ntrailing space \n")
        let body = text[text.firstRange(of: "\r\n\r\n")!.upperBound...]
        let lines = body.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(lines.allSatisfy { !$0.hasPrefix(".") })
        #expect(lines[0] == "=2E")
        #expect(lines[1] == "=2E.leading dots")
        #expect(lines[2].hasPrefix("=C3=BCmlaut =3D equals"))
        #expect(body.contains("trailing space=20\r\n"))
    }
}

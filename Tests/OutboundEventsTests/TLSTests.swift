import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing
import TLSMaterial

/// CA certificates (SPEC 2): checked with OpenSSL when set, then the only trust of their
/// recipient, with host name verification and TLS 1.2 or newer. Verification is never off.
@Suite("TLS and CA certificates")
struct TLSTests {
    let pki = TestPKI.shared

    @Test("with its CA uploaded, a recipient delivers over HTTPS")
    func rightCA() throws {
        let receiver = try Receiver(tls: pki.server)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", pki.caPEM)])
        live.emit()
        #expect(live.agent.flush(timeout: 10_000) == .ok)
        #expect(receiver.requests.count == 1)
    }

    @Test("a server whose chain does not lead to the uploaded CA is refused, logged as a TLS failure")
    func wrongCA() throws {
        let receiver = try Receiver(tls: pki.server)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", pki.otherCAPEM),
                           ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        let status = live.recipient("r")["status"] as? String ?? ""
        #expect(status.hasPrefix("TLS: "), "status: \(status)")
        #expect(receiver.requests.isEmpty)
        // Entries are written just after the lock that updates the status is released.
        #expect(waitUntil { !live.log.entries(.tlsVerificationFailed).isEmpty })
        let entry = try #require(live.log.entries(.tlsVerificationFailed).first)
        #expect(entry.field("OE_URL") == receiver.localhostURL)
    }

    @Test("without a CA the system trust store is used, which does not know the test CA")
    func systemStore() throws {
        let receiver = try Receiver(tls: pki.server)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        #expect((live.recipient("r")["status"] as? String)?.hasPrefix("TLS: ") == true)
    }

    @Test("a certificate for another host name is refused")
    func hostName() throws {
        let receiver = try Receiver(tls: pki.wrongHost)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", pki.caPEM), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        let status = live.recipient("r")["status"] as? String ?? ""
        #expect(status.contains("localhost") || status.lowercased().contains("name"), "status: \(status)")
        #expect(receiver.requests.isEmpty)
    }

    @Test("an expired server certificate is refused")
    func expiredServer() throws {
        let receiver = try Receiver(tls: pki.expiredServer)
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", pki.caPEM), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        #expect((live.recipient("r")["status"] as? String)?.contains("expired") == true)
    }

    @Test("a server that offers only TLS 1.0 is refused")
    func oldTLS() throws {
        let receiver = try Receiver(tls: pki.server, tlsMax: "1.0")
        let live = try LiveAgent()
        try live.put("r", [("url", receiver.localhostURL), ("ca_certificate", pki.caPEM), ("retry_interval", "1h")])
        live.emit()
        #expect(waitUntil { live.recipient("r")["failing_since"] is Int })
        #expect((live.recipient("r")["status"] as? String)?.hasPrefix("TLS: ") == true)
        #expect(receiver.requests.isEmpty)
    }

    @Test("garbage, a non-CA certificate and an expired CA are refused at configuration time, saying which")
    func refusedCertificates() throws {
        let live = try LiveAgent()
        let cases: [(String, String)] = [
            ("not a certificate at all", "not a PEM certificate"),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "could not be parsed"),
            (pki.leafPEM, "is not a CA certificate"),
            (pki.expiredCAPEM, "expired on"),
        ]
        for (error, reason) in zip(refusals(live, cases), cases.map(\.1)) {
            #expect(error.code == .tls)
            #expect(error.message.hasPrefix("ca_certificate: ") && error.message.contains(reason), "\(error.message)")
        }
        #expect(live.log.entries(.caCertificateRejected).count == cases.count)
        #expect((try statusObject(live.agent)["recipients"] as! [Any]).isEmpty)
    }

    /// Puts a recipient with each case's CA setting; each must be refused. The errors, in order.
    func refusals(_ live: LiveAgent, _ cases: [(String, String)]) -> [ConfigError] {
        cases.compactMap { (pem, reason) -> ConfigError? in
            do throws(ConfigError) {
                try live.put("r", [("url", "https://localhost/"), ("ca_certificate", pem)])
                Issue.record("accepted: \(reason)")
                return nil
            } catch {
                return error
            }
        }
    }

    @Test("a CA setting with several certificates: each is checked, and the error names which one fails")
    func bundles() throws {
        let live = try LiveAgent()
        let cases: [(String, String)] = [
            (pki.caPEM + pki.leafPEM, "certificate 2 of 2, CN=leaf.example, is not a CA"),
            (pki.caPEM + pki.otherCAPEM + pki.expiredCAPEM,
             "certificate 3 of 3, the CA certificate CN=Expired CA, expired on"),
            (pki.caPEM + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
             "certificate 2 of 2 could not be parsed"),
            (pki.caPEM + "-----BEGIN CERTIFICATE-----\nMIIB\n",
             "certificate 2 of 2 has no -----END CERTIFICATE----- line"),
            (pki.caPEM + pki.expiredCAPEM.replacingOccurrences(of: "CERTIFICATE-----", with: "X509 CERTIFICATE-----"),
             "certificate 2 of 2, the CA certificate CN=Expired CA, expired on"),
            (pki.caPEM + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
             "certificate 2 of 2 is a \"PRIVATE KEY\" PEM block, not a certificate"),
            (pki.caPEM + "-----BEGIN PRIVATE KEY----\nMIIsecretKEYtext\n-----END PRIVATE KEY-----\n",
             "certificate 2 of 2 has a malformed -----BEGIN line (it is not shown)"),
        ]
        for (error, reason) in zip(refusals(live, cases), cases.map(\.1)) {
            #expect(error.code == .tls)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(!error.message.contains("secretKEY"), "a mangled block is never shown")
        }
        let bundle = try CACertificate("ca_certificate", pem: pki.otherCAPEM + pki.caPEM,
                                       now: SystemClock().unixSeconds())
        #expect(bundle.count == 2)
        // Every certificate of an accepted bundle is trusted: the server's CA may come second.
        let receiver = try Receiver(tls: pki.server)
        try live.put("bundle", [("url", receiver.localhostURL), ("ca_certificate", pki.otherCAPEM + pki.caPEM)])
        live.emit("support_conference_begin", [("lsid", "b")])
        #expect(waitUntil { receiver.requests.count == 1 })
    }

    @Test("HMAC-SHA256 signatures match the Standard Webhooks test vector")
    func standardWebhooksVector() {
        let key = Base64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
        let message = Array("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}".utf8)
        #expect(HMACSHA256.base64Signature(key: key, message: message)
                    == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(HMACSHA256.base64Signature(key: key, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330,
                                           body: Array("{\"test\": 2432232314}".utf8))
                    == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                "three updates sign what the concatenation does")
    }
}

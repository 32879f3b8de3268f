import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// Receivers that misbehave, each next to a healthy one that must keep receiving promptly
/// (SPEC 2: a dead or slow recipient never delays another).
@Suite("Hostile receivers")
struct HostileTests {
    enum Hostile: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case neverAnswers, oneBytePerSecond, gigabyteBody, resetMidResponse, expiredCertificate, wrongHostName,
             tls10Only, everyOtherRequest
        var testDescription: String { rawValue }
    }

    func receiver(_ hostile: Hostile) throws -> Receiver {
        let pki = TestPKI.shared
        switch hostile {
        case .neverAnswers: return try Receiver(control: "hang")
        case .oneBytePerSecond: return try Receiver(control: "slow")
        case .gigabyteBody: return try Receiver(control: "huge")
        case .resetMidResponse: return try Receiver(control: "reset")
        case .expiredCertificate: return try Receiver(tls: pki.expiredServer)
        case .wrongHostName: return try Receiver(tls: pki.wrongHost)
        case .tls10Only: return try Receiver(tls: pki.server, tlsMax: "1.0")
        case .everyOtherRequest: return try Receiver(control: "alternate")
        }
    }

    @Test("a healthy recipient keeps receiving promptly next to a hostile one", arguments: Hostile.allCases)
    func healthyKeepsReceiving(_ hostile: Hostile) throws {
        let bad = try receiver(hostile)
        let healthy = try Receiver()
        let live = try LiveAgent([("http.request_timeout", "3s")])
        let url = bad.tls == nil ? bad.url : bad.localhostURL
        try live.put("hostile", [("url", url), ("ca_certificate", TestPKI.shared.caPEM), ("retry_interval", "200ms")])
        try live.put("healthy", [("url", healthy.url)])
        let start = Date()
        for i in 0..<30 {
            live.emit("support_conference_begin", [("lsid", "e\(i)")])
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(waitUntil(10) { healthy.requests.count == 30 })
        #expect(Date().timeIntervalSince(start) < 5, "the healthy recipient was held up")
        #expect(healthy.lsids() == (0..<30).map { "e\($0)" })
        let status = live.recipient("hostile")
        switch hostile {
        case .gigabyteBody:
            #expect(waitUntil(10) { live.recipient("hostile")["delivered"] as? Int == 30 },
                    "a 200 with a huge body counts")
        case .everyOtherRequest:
            #expect(waitUntil(20) { live.recipient("hostile")["delivered"] as? Int == 30 },
                    "every event arrives despite the failures")
            let received = bad.requests.map { $0.field("lsid") ?? "" }
            var firsts: [String] = []
            for lsid in received where !firsts.contains(lsid) { firsts.append(lsid) }
            #expect(firsts == (0..<30).map { "e\($0)" }, "in order")
        default:
            #expect(status["delivered"] as? Int ?? 0 < 30)
        }
        if hostile == .expiredCertificate || hostile == .wrongHostName || hostile == .tls10Only {
            #expect(waitUntil(5) { (live.recipient("hostile")["status"] as? String)?.hasPrefix("TLS: ") == true })
            #expect(bad.requests.isEmpty, "nothing is sent over an unverified connection")
        }
    }
}

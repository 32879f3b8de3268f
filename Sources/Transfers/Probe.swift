import CCurl
import CShims
import OutboundEventsCore

/// What happened to one test delivery, in the detail a field engineer needs: where the name
/// resolved to, how TLS went and what the server presented, the answer, and the time each
/// step took.
public struct ProbeReport: Sendable {
    /// The URL in its redacted form (SPEC 8).
    public var url: String
    public var address: String?
    public var tlsVersion: String?
    /// "OK" when the peer verified, the reason when it did not; nil for plain HTTP.
    public var verification: String?
    /// The certificates the server presented, leaf first, as "Subject", "Issuer", "Start date",
    /// "Expire date" pairs (read without trusting them when verification failed).
    public var certificates: [[(name: String, value: String)]] = []
    public var result: DeliveryResult
    public var lookupMillis: Double = 0
    public var connectMillis: Double = 0
    public var tlsMillis: Double = 0
    public var totalMillis: Double = 0
    public var delivered: Bool { result.succeeded }
}

/// One test POST, made exactly as the agent makes deliveries (same options, same
/// verification), but blocking and with every detail kept: `outbound-events send-test`.
public enum Probe {
    public static func send(_ target: HTTPTarget, body: [UInt8], headers: [String]) -> ProbeReport {
        let transfer = HTTPTransfer(slot: 0, target: target)
        // The raw handle is read after the transfer's last use; it must outlive those reads.
        defer { withExtendedLifetime(transfer) {} }
        var report = ProbeReport(url: URLRedaction.redact(target.url),
                                 result: DeliveryResult(status: 0, failure: .network, error: "libcurl unavailable",
                                                        elapsed: 0))
        guard curlReady, let easy = transfer.easy else { return report }
        cshims_curl_easy_setopt_long(easy, CURLOPT_CERTINFO, 1)
        transfer.recordTLSVersion = true
        transfer.prepare(body: body, headers: headers)
        let code = curl_easy_perform(easy)
        report.result = transfer.result(code)
        var ip: UnsafePointer<CChar>?
        var port = 0
        cshims_curl_easy_getinfo_string(easy, CURLINFO_PRIMARY_IP, &ip)
        cshims_curl_easy_getinfo_long(easy, CURLINFO_PRIMARY_PORT, &port)
        if let ip, ip.pointee != 0 { report.address = "\(String(cString: ip)):\(port)" }
        report.lookupMillis = time(easy, CURLINFO_NAMELOOKUP_TIME_T)
        report.connectMillis = time(easy, CURLINFO_CONNECT_TIME_T)
        report.tlsMillis = time(easy, CURLINFO_APPCONNECT_TIME_T)
        report.totalMillis = time(easy, CURLINFO_TOTAL_TIME_T)
        guard target.url.lowercased().hasPrefix("https:") else { return report }
        report.tlsVersion = transfer.tlsVersion
        report.certificates = certificates(easy)
        if report.result.failure == .tls {
            report.verification = report.result.error.hasPrefix("TLS: ")
                ? String(report.result.error.dropFirst(5)) : report.result.error
            if report.certificates.isEmpty { report.certificates = presented(target) }
        } else if code == CURLE_OK || report.result.status > 0 {
            report.verification = "OK"
        }
        return report
    }

    static func time(_ easy: UnsafeMutableRawPointer, _ info: CURLINFO) -> Double {
        var micros: curl_off_t = 0
        cshims_curl_easy_getinfo_offset(easy, info, &micros)
        return Double(micros) / 1000
    }

    static func certificates(_ easy: UnsafeMutableRawPointer) -> [[(name: String, value: String)]] {
        var pointer: UnsafeMutableRawPointer?
        guard cshims_curl_easy_getinfo_pointer(easy, CURLINFO_CERTINFO, &pointer) == CURLE_OK, let pointer else {
            return []
        }
        let info = pointer.assumingMemoryBound(to: curl_certinfo.self).pointee
        guard info.num_of_certs > 0, let chain = info.certinfo else { return [] }
        var result: [[(name: String, value: String)]] = []
        for index in 0..<Int(info.num_of_certs) {
            var fields: [(name: String, value: String)] = []
            var item = chain[index]
            while let node = item {
                let text = String(cString: node.pointee.data)
                if let colon = text.firstIndex(of: ":") {
                    let name = String(text[..<colon])
                    if ["Subject", "Issuer", "Start date", "Expire date"].contains(name) {
                        fields.append((name, String(text[text.index(after: colon)...])))
                    }
                }
                item = node.pointee.next
            }
            result.append(fields)
        }
        return result
    }

    /// The chain a server presents, fetched with a TLS handshake that does not verify it and
    /// sends nothing: only to show a person what is there when verification failed.
    static func presented(_ target: HTTPTarget) -> [[(name: String, value: String)]] {
        guard let easy = curl_easy_init() else { return [] }
        defer { curl_easy_cleanup(easy) }
        target.url.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_URL, $0) }
        "".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROXY, $0) }
        cshims_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        cshims_curl_easy_setopt_long(easy, CURLOPT_CERTINFO, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(target.connectTimeout))
        guard curl_easy_perform(easy) == CURLE_OK else { return [] }
        return certificates(easy)
    }
}

/// What happened to one test email (`outbound-events send-test mailto:ADDRESS`): the
/// conversation with the relay, credentials hidden, how TLS went, and the time it took.
public struct MailProbeReport: Sendable {
    /// Lines marked `*` (libcurl's account: connection, TLS), `>` (our commands), `<` (the
    /// relay's replies).
    public var transcript: [String]
    public var tlsVersion: String?
    public var result: DeliveryResult
    public var connectMillis: Double = 0
    public var tlsMillis: Double = 0
    public var totalMillis: Double = 0
    public var delivered: Bool { result.succeeded }
}

extension Probe {
    /// Hands one email to the relay exactly as the agent does (same options, same
    /// verification), blocking, with every step kept.
    public static func sendMail(_ target: SMTPTarget, envelope: MailEnvelope) -> MailProbeReport {
        let transfer = SMTPTransfer(slot: 0, target: target)
        defer { withExtendedLifetime(transfer) {} }
        var report = MailProbeReport(transcript: [],
                                     result: DeliveryResult(status: 0, failure: .network, error: "libcurl unavailable",
                                                            elapsed: 0))
        guard curlReady, let easy = transfer.easy else { return report }
        transfer.transcript = []
        transfer.prepare(envelope)
        // The connection is not kept, so the transcript ends with QUIT.
        cshims_curl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, 1)
        let code = curl_easy_perform(easy)
        report.result = transfer.result(code)
        report.transcript = transfer.transcript ?? []
        report.tlsVersion = cshims_curl_tls_version(easy).map { String(cString: $0) }
        report.connectMillis = time(easy, CURLINFO_CONNECT_TIME_T)
        report.tlsMillis = time(easy, CURLINFO_APPCONNECT_TIME_T)
        report.totalMillis = time(easy, CURLINFO_TOTAL_TIME_T)
        return report
    }
}

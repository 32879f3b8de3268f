import OutboundEventsCore
import TLSMaterial
import Transfers

/// A test event or email sent now, and what happened, line by line: `outbound-events
/// send-test` prints these lines, and the Outbound Events page shows the same ones for its
/// Send test and Send test email buttons.
public enum SendTestReport {
    /// One test event to `webhook`, sent as the agent sends events (body, headers, signature,
    /// TLS, proxy, timeouts). `trust` says what the CA is, for the report ("the CA in ca.pem");
    /// nil: the system store. Returns the lines and whether the appliance counts it delivered.
    public static func http(webhook: WebhookURL, caCertificate pem: String, ca: CACertificate?, trust: String?,
                            event: String, applianceID: String, signingKeys: [Secret]?, bodyFormat: BodyFormat,
                            connectTimeout: Millis, requestTimeout: Millis, proxy: ProxyURL?, noProxy: [String],
                            version: String, now: Int64) -> (lines: [String], delivered: Bool) {
        var lines: [String] = []
        if let ca { lines.append("CA:           \(ca.subject), valid until \(ca.notAfter)") }
        let profile = FirmwareProfile.bSeries
        let wire = WireFormat(version: profile.version, applianceID: applianceID, instance: UInt64(now))
        let variables = [("lsid", "send-test-\(now)"), ("external_key", "send-test")]
        let (body, id) = TestEvent.body(event, variables, wire: wire, timestamp: now, format: bodyFormat)
        var headers = ["Content-Type: \(bodyFormat.contentType)", "webhook-id: \(id)", "webhook-timestamp: \(now)"]
        if let signingKeys, !signingKeys.isEmpty {
            let signatures = signingKeys.map {
                "v1," + HMACSHA256.base64Signature(key: $0.unredactedBytes, id: id, timestamp: now, body: body)
            }
            headers.append("webhook-signature: \(signatures.joined(separator: " "))")
        }
        let target = HTTPTarget(url: webhook.unredactedText, caCertificate: pem, connectTimeout: connectTimeout,
                                requestTimeout: requestTimeout, userAgent: "outbound-events/\(version)",
                                proxy: proxy, noProxy: noProxy)
        let report = Probe.send(target, body: body, headers: headers)
        lines.append("URL:          \(webhook.redacted)")
        if let proxy {
            lines.append("Proxy:        \(proxy.redacted)"
                             + "\(webhook.scheme == .https ? " (a CONNECT tunnel; TLS verified end to end)" : "")"
                             + "\(noProxy.isEmpty ? "" : ", not for \(noProxy.joined(separator: ", "))")")
        }
        lines.append("Event:        \(event) (webhook-id \(id))")
        lines.append("Resolved to:  \(report.address ?? "(no connection)")")
        if webhook.scheme == .https {
            let trust = trust ?? "the system trust store"
            if let verification = report.verification {
                let version = report.tlsVersion.map { "\($0), " } ?? ""
                lines.append(verification == "OK"
                             ? "TLS:          \(version)certificate verified against \(trust)"
                             : "TLS:          verification FAILED against \(trust): \(verification)")
            } else {
                lines.append("TLS:          no handshake")
            }
            for (position, certificate) in report.certificates.enumerated() {
                let label = position == 0
                    ? (report.verification == "OK" ? "Certificate:" : "Presented:   ") : "             "
                func field(_ name: String) -> String { certificate.first { $0.name == name }?.value ?? "?" }
                lines.append("\(label) \(field("Subject")), issued by \(field("Issuer")),"
                                 + " valid \(field("Start date")) to \(field("Expire date"))")
            }
        }
        lines.append("Answer:       \(report.result.succeeded ? "HTTP 200" : report.result.error)")
        lines.append("Time:         \(format(report.lookupMillis)) lookup, \(format(report.connectMillis)) connect, "
                         + (webhook.scheme == .https ? "\(format(report.tlsMillis)) TLS, " : "")
                         + "\(format(report.totalMillis)) in all")
        if report.delivered {
            lines.append("Delivered:    yes — the appliance counts this as delivered")
        } else {
            lines.append("Delivered:    no — the appliance would keep the event and retry it (only HTTP 200 counts)")
        }
        return (lines, report.delivered)
    }

    /// One test email to `address` through the relay of `smtp` (its CA already checked and
    /// given as `ca`), as the agent sends mail; every command and reply of the relay, the
    /// credentials hidden.
    public static func mail(to address: String, smtp: SMTPSettings, ca: CACertificate?, applianceID: String,
                            connectTimeout: Millis, requestTimeout: Millis,
                            now: Int64) -> (lines: [String], delivered: Bool) {
        var lines: [String] = []
        if let ca { lines.append("CA:           \(ca.subject), valid until \(ca.notAfter)") }
        let from = Agent.sender(smtp)
        let message = MailMessage(from: from, to: [address], subject: "Outbound events: test email from \(applianceID)",
                                  body: "This is a test email from the outbound events agent of appliance"
                                      + " \(applianceID), sent with outbound-events send-test.\n"
                                      + "If it reached you, the appliance's SMTP relay settings work.\n",
                                  date: now, messageID: "send-test-\(now)@\(Agent.domain(of: from))")
        let target = SMTPTarget(relay: smtp, connectTimeout: connectTimeout, requestTimeout: requestTimeout)
        let encryption = switch smtp.encryption {
        case .none: "no encryption"
        case .starttls: "STARTTLS required"
        case .tls: "TLS from the start"
        }
        lines.append("Relay:        \(smtp.encryption == .tls ? "smtps" : "smtp")://\(smtp.host):\(smtp.effectivePort)"
                         + " (\(encryption))")
        lines.append("From:         \(from)")
        lines.append("To:           \(address)")
        let login = smtp.username.isEmpty
            ? "none (smtp.username is not set)" : "as \(smtp.username) (the password is not shown)"
        lines.append("Login:        \(login)")
        let report = Probe.sendMail(target, envelope: MailEnvelope(from: from, recipients: [address],
                                                                   message: message.rendered()))
        lines.append("Conversation:")
        for line in report.transcript { lines.append("  \(line)") }
        if smtp.encryption != .none {
            let trust = smtp.caCertificate.isEmpty ? "the system trust store" : "the uploaded CA"
            let negotiated = report.transcript.lazy.compactMap { line -> String? in
                guard let range = line.byteRange(of: "SSL connection using ") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != " " })
            }.first ?? report.tlsVersion
            if report.result.failure == .tls {
                lines.append("TLS:          verification FAILED against \(trust): \(report.result.error)")
            } else if let negotiated {
                lines.append("TLS:          \(negotiated), certificate verified against \(trust)")
            } else {
                lines.append("TLS:          no handshake")
            }
        }
        let answer = report.delivered ? "the relay took the email (\(report.result.status))" : report.result.error
        lines.append("Answer:       \(answer)")
        for refusal in report.result.refusedAddresses {
            lines.append("Refused:      \(refusal.address): \(refusal.reply)")
        }
        lines.append("Time:         \(format(report.connectMillis)) connect, "
                         + (smtp.encryption != .none ? "\(format(report.tlsMillis)) TLS, " : "")
                         + "\(format(report.totalMillis)) in all")
        let delivered = report.delivered && report.result.refusedAddresses.isEmpty
        if delivered {
            lines.append("Delivered:    yes — the relay accepted the email for \(address)")
        } else {
            lines.append("Delivered:    no — the agent would keep its email and retry it every smtp.retry_interval")
        }
        return (lines, delivered)
    }

    static func format(_ millis: Double) -> String {
        let tenths = Int((millis * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
}

/// The body and id of a test event, made by the agent's own wire format.
public enum TestEvent {
    public static func body(_ event: String, _ variables: [(String, String)], wire: WireFormat, timestamp: Int64,
                            format: BodyFormat) -> ([UInt8], String) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { memory.deallocate() }
        let queue = EventQueue(memory: memory, policy: .reject)
        queue.activate(0, name: "send-test")
        let name = Array(event.utf8)
        StringFields(variables).withFields { fields in
            // Larger than a record can be: no event, so an empty body.
            guard let size = EventRecord.size(nameLength: name.count, variables: fields, customFields: .none),
                  size <= memory.count / 4 else { return }
            _ = name.withUnsafeBytes {
                queue.append(size: size, mask: 1, timestamp: timestamp, name: $0,
                             variables: fields, customFields: .none)
            }
        }
        var body: [UInt8] = []
        guard let view = queue.beginDelivery(0) else { return (body, "") }
        switch format {
        case .form: wire.body(of: view, customFields: false, into: &body)
        case .json: wire.jsonBody(of: view, customFields: false, into: &body)
        }
        return (body, wire.eventID(seq: view.seq))
    }
}

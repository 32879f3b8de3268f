import COutboundEvents
import CSystem
import OutboundEventsAgent
import OutboundEventsCore
import TLSMaterial

/// What Send test and Send test email did: the lines `outbound-events send-test` prints, or why
/// nothing was sent.
struct TestResult {
    struct Refused {
        var status: Int
        var key: String?
        var message: String
    }

    var delivered = false
    var lines: [String] = []
    var refusal: Refused?
}

extension AdminServer {
    /// The agent settings that apply to tests: the running configuration's.
    func agentSettings(_ configuration: Configuration) -> AgentSettings {
        var settings = AgentSettings()
        try? settings.apply(configuration.file.agentSettingsOnly.map { ($0.key, $0.value) })
        return settings
    }

    /// Send test: one signed test delivery to an HTTP recipient, with its URL, CA, signing
    /// secret and body format, as `outbound-events send-test` sends it.
    func sendTest(_ name: String) -> TestResult {
        let configuration = daemon.currentConfiguration()
        guard let recipient = configuration.file.recipients.first(where: { $0.kind == .http && $0.name == name }) else {
            return TestResult(refusal: .init(status: 404, key: nil, message: "no HTTP recipient \(Values.quote(name))"))
        }
        let settings = agentSettings(configuration)
        let now = Int64(time(nil))
        let http: HTTPRecipientSettings
        var ca: CACertificate?
        do throws(ConfigError) {
            http = try HTTPRecipientSettings(recipient.settings.map { ($0.key, $0.value) },
                                             profile: daemon.agent.profile, deployment: settings.deployment)
            if !http.caCertificate.isEmpty {
                ca = try CACertificate("ca_certificate", pem: http.caCertificate, now: now)
            }
        } catch {
            return TestResult(refusal: .init(status: 422, key: nil, message: error.message))
        }
        guard let url = http.url else {
            return TestResult(refusal: .init(status: 422, key: "url", message: "url: required"))
        }
        let profile = daemon.agent.profile
        let event = profile.events.indices.first { http.events.contains($0) }.map { profile.events[$0].name }
            ?? "support_conference_begin"
        let (lines, delivered) = SendTestReport.http(
            webhook: url, caCertificate: http.caCertificate, ca: ca,
            trust: ca == nil ? nil : "the recipient's CA certificate",
            event: event, applianceID: settings.applianceID.isEmpty ? Agent.hostName() : settings.applianceID,
            signingKeys: http.signingKeys, bodyFormat: http.bodyFormat, connectTimeout: settings.connectTimeout,
            requestTimeout: settings.requestTimeout, proxy: settings.proxy, noProxy: settings.noProxy,
            version: OE_VERSION_STRING, now: now)
        return TestResult(delivered: delivered, lines: lines)
    }

    /// Send test email: one email through the relay of the running configuration.
    func sendTestEmail(to address: String) -> TestResult {
        let configuration = daemon.currentConfiguration()
        let settings = agentSettings(configuration)
        guard settings.smtp.isConfigured else {
            return TestResult(refusal: .init(status: 422, key: "smtp.host",
                                             message: "no relay: set SMTP relay (smtp.host) first"))
        }
        let now = Int64(time(nil))
        var ca: CACertificate?
        if !settings.smtp.caCertificate.isEmpty {
            do throws(ConfigError) {
                ca = try CACertificate("smtp.ca_certificate", pem: settings.smtp.caCertificate, now: now)
            } catch {
                return TestResult(refusal: .init(status: 422, key: "smtp.ca_certificate", message: error.message))
            }
        }
        let (lines, delivered) = SendTestReport.mail(
            to: address, smtp: settings.smtp, ca: ca,
            applianceID: settings.applianceID.isEmpty ? Agent.hostName() : settings.applianceID,
            connectTimeout: settings.connectTimeout, requestTimeout: settings.requestTimeout, now: now)
        return TestResult(delivered: delivered, lines: lines)
    }
}
